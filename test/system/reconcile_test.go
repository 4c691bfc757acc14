package system

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/db"
	"tiersync/internal/db/dbtest"
	"tiersync/internal/testfactory"
)

// TestReconcileBesideLiveWork: a big Commerce7 client (1 500 members: 30 pages) is
// reconciled by a real server while an enrollment of a small client, and one of the big
// client itself, come in: both answer "completed" inline, because the listing takes its
// tokens at low priority (half the big client's burst stays for live work) and the small
// client's bucket is its own. The reconciliation still finishes, in step, and no request
// was answered 429. Asserted on the order of events, never on the wall clock.
func TestReconcileBesideLiveWork(t *testing.T) {
	t.Parallel()
	const bigMembers = 1500
	dbURL, fake, pool := reconcileWorld(t)

	big, bigTier := seedMembersInStep(t, fake, pool, "big", bigMembers)
	small := testfactory.Client(t, pool, testfactory.ClientOpts{Name: "Small", Tenant: "small", RateLimitPerMinute: 100})
	smallTier := testfactory.Tier(t, pool, small, testfactory.TierOpts{Name: "Gold", C7ClubID: "club-gold", C7DeliveryMethod: "Pickup"})

	listen := freeAddr(t)
	startReplica(t, reconcileEnv(dbURL, fake, listen, "off"))
	base := "http://" + listen
	waitReady(t, listen, 30*time.Second)
	call := func(method, path, body string) (int, map[string]any) { return callAPI(t, base, method, path, body) }

	status, out := call("POST", "/api/cron", `{"action":"trigger","job":"reconcile-memberships","client_id":"`+big+`"}`)
	if status != 202 {
		t.Fatalf("trigger: %d %v", status, out)
	}
	report := out["report"].(string)
	pages := func() int {
		return count(t, pool, `SELECT coalesce(max(pages), 0) FROM reconcile_runs WHERE client_id = $1`, big)
	}
	// Past the burst: the listing now waits on the big client's refill.
	waitFor(t, time.Minute, "the listing past its burst", func() bool { return pages() >= 6 })

	for _, tc := range []struct{ name, client, tier, email string }{
		{"the small client's", small, smallTier, "new@small.example.com"},
		{"the big client's own", big, bigTier, "new@big.example.com"},
	} {
		before := pages()
		status, out := call("POST", "/api/enrollments", fmt.Sprintf(`{"client_id":%q,"tier_id":%q,"customer":{"email":%q,"first_name":"N","last_name":"M"}}`,
			tc.client, tc.tier, tc.email))
		after := pages()
		if status != 201 || out["sync"].(map[string]any)["status"] != "completed" {
			t.Fatalf("%s enrollment during the reconciliation: %d %v; want completed inline", tc.name, status, out)
		}
		if after >= bigMembers/50 {
			t.Fatalf("%s enrollment answered after the listing ended (%d → %d pages): the test proves nothing", tc.name, before, after)
		}
		t.Logf("%s enrollment answered completed inline while the listing went from page %d to %d", tc.name, before, after)
	}

	waitFor(t, 2*time.Minute, "the reconciliation finished", func() bool {
		_, rep := call("GET", report, "")
		return rep["status"] != "running"
	})
	_, rep := call("GET", report, "")
	c := rep["clients"].([]any)[0].(map[string]any)
	if rep["status"] != "succeeded" || c["status"] != "done" || c["listed"].(float64) < bigMembers || len(rep["differences"].([]any)) != 0 {
		t.Fatalf("report: %v", rep)
	}
	resp, err := http.Get(fake + "/_fake/commerce7/requests")
	if err != nil {
		t.Fatal(err)
	}
	var log struct{ Requests []struct{ Status int } }
	if err := json.NewDecoder(resp.Body).Decode(&log); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, r := range log.Requests {
		if r.Status == http.StatusTooManyRequests {
			t.Fatalf("a request was answered 429")
		}
	}
}

// reconcileWorld is a reconcile test's database (its URL and a pool on it) and fake CRM
// process, whose own limit is out of the way: the client's is the one that binds.
func reconcileWorld(t *testing.T) (dbURL, fake string, pool *pgxpool.Pool) {
	t.Helper()
	dbURL = dbtest.NewURL(t)
	fake = fakeCRMWith(t, "--c7-rate-limit", "100000")
	pool, err := db.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return dbURL, fake, pool
}

// seedMembersInStep gives the fake's tenant n customers with a Gold membership each, and
// the client of that tenant (120 requests a minute: a burst of 10, 1.8 a second after it,
// so a listing of n members takes ~n/90 s) the same customers, linked, with active
// enrollments.
func seedMembersInStep(t *testing.T, fake string, pool *pgxpool.Pool, tenant string, n int) (client, tier string) {
	t.Helper()
	seeded := seedFakeCustomers(t, fake, tenant, "m", n)
	type membership struct {
		CustomerID          string `json:"customerId"`
		ClubID              string `json:"clubId"`
		OrderDeliveryMethod string `json:"orderDeliveryMethod"`
	}
	ms := make([]membership, n)
	for i, c := range seeded {
		ms[i] = membership{c.id, "club-gold", "Pickup"}
	}
	body, _ := json.Marshal(map[string]any{"tenant": tenant, "memberships": ms})
	resp, err := http.Post(fake+"/_fake/commerce7/memberships", "application/json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("seed memberships: %v %v", resp, err)
	}
	resp.Body.Close()
	client = testfactory.Client(t, pool, testfactory.ClientOpts{Name: tenant, Tenant: tenant, RateLimitPerMinute: 120})
	tier = testfactory.Tier(t, pool, client, testfactory.TierOpts{Name: "Gold", C7ClubID: "club-gold", C7DeliveryMethod: "Pickup"})
	opts := make([]testfactory.CustomerOpts, n)
	for i, c := range seeded {
		opts[i] = testfactory.CustomerOpts{Email: c.email, CRMID: c.id, CurrentTierID: tier}
	}
	enrolls := make([]testfactory.EnrollmentOpts, n)
	for i, c := range testfactory.CustomersWith(t, pool, client, opts) {
		enrolls[i] = testfactory.EnrollmentOpts{CustomerID: c, TierID: tier}
	}
	testfactory.Enrollments(t, pool, enrolls)
	return client, tier
}

// reconcileEnv is a replica's environment for the reconcile tests, sweeping on sweep.
func reconcileEnv(dbURL, fake, listen, sweep string) []string {
	return []string{
		"DATABASE_URL=" + dbURL, "TIERSYNC_API_TOKEN=" + systemToken,
		"TIERSYNC_SECRET_KEY=" + "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU=",
		"COMMERCE7_API_URL=" + fake + "/v1", "COMMERCE7_APP_ID=tiersync-demo", "COMMERCE7_KEY=demo-secret",
		"WORKERS=4", "POLL_INTERVAL=100ms", "LISTEN_ADDR=" + listen, "LOG_LEVEL=warn",
		"SCHEDULE_EXPIRE=off", "SCHEDULE_SYNC=" + sweep, "SCHEDULE_RECONCILE=off",
	}
}

// TestReconcileResumesAfterKill: the replica reconciling a 1 500-member client (30 pages)
// is killed with -9 midway; another replica's heartbeat watch fails its job run within a
// minute, and its sweep (every minute here) takes the client's run up at the page after
// the last one saved: the listing reads the CRM's 30 pages once in all, plus at most the
// page in flight when the replica died, never from the start again.
func TestReconcileResumesAfterKill(t *testing.T) {
	t.Parallel()
	const members, pages = 1500, 30
	dbURL, fake, pool := reconcileWorld(t)
	client, _ := seedMembersInStep(t, fake, pool, "big", members)

	first := freeAddr(t)
	victim := startReplica(t, reconcileEnv(dbURL, fake, first, "off"))
	waitReady(t, first, 30*time.Second)
	status, out := callAPI(t, "http://"+first, "POST", "/api/cron", `{"action":"trigger","job":"reconcile-memberships","client_id":"`+client+`"}`)
	if status != 202 {
		t.Fatalf("trigger: %d %v", status, out)
	}
	killedRun := int64(out["run_id"].(float64))
	saved := func() int { return count(t, pool, `SELECT coalesce(max(pages), 0) FROM reconcile_runs`) }
	waitFor(t, time.Minute, "the listing a third through", func() bool { return saved() >= pages/3 })
	victim.kill(t)
	atKill := saved()

	second := freeAddr(t)
	startReplica(t, reconcileEnv(dbURL, fake, second, "* * * * *"))
	waitFor(t, 4*time.Minute, "the client's run resumed and done", func() bool {
		return count(t, pool, `SELECT count(*) FROM reconcile_runs WHERE status = 'done'`) == 1
	})
	if n := count(t, pool, `SELECT count(*) FROM reconcile_runs`); n != 1 {
		t.Fatalf("%d client runs: the sweep's run must adopt the killed one's, not start another", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM job_runs WHERE id = $1 AND status = 'failed' AND error LIKE '%heartbeat%'`, killedRun); n != 1 {
		t.Fatal("the killed replica's job run was not failed by the heartbeat watch")
	}
	if n := count(t, pool, `SELECT count(*) FROM reconcile_runs r JOIN job_runs j ON j.id = r.job_run_id
	        WHERE j.id <> $1 AND j.status = 'succeeded' AND j.runner NOT LIKE 'cli-%'`, killedRun); n != 1 {
		t.Fatal("the client's run is not the sweep's resumed run's, succeeded")
	}
	resp, err := http.Get(fake + "/_fake/commerce7/requests")
	if err != nil {
		t.Fatal(err)
	}
	var log struct {
		Requests []struct{ Path, RawQuery string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&log); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	listings := 0
	for _, r := range log.Requests {
		if strings.HasSuffix(r.Path, "/club-membership") && strings.Contains(r.RawQuery, "clubId=") {
			listings++
		}
	}
	t.Logf("killed after %d of %d pages saved; %d listing requests in all", atKill, pages, listings)
	if listings < pages || listings > pages+1 {
		t.Fatalf("%d listing requests for %d pages: the resumed run read pages again (killed after %d saved)", listings, pages, atKill)
	}
	if n := count(t, pool, `SELECT count(*) FROM reconcile_differences WHERE status <> 'gone'`); n != 0 {
		t.Fatalf("%d differences for a client in step", n)
	}
}
