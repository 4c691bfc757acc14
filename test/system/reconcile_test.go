package system

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

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
	dbURL := dbtest.NewURL(t)
	fake := fakeCRMWith(t, "--c7-rate-limit", "100000")
	ctx := context.Background()
	pool, err := db.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	// The big client's members, in step: a customer and a membership at the CRM, a linked
	// customer and an active enrollment here.
	seeded := seedFakeCustomers(t, fake, "big", "m", bigMembers)
	type membership struct {
		CustomerID          string `json:"customerId"`
		ClubID              string `json:"clubId"`
		OrderDeliveryMethod string `json:"orderDeliveryMethod"`
	}
	ms := make([]membership, bigMembers)
	for i, c := range seeded {
		ms[i] = membership{c.id, "club-gold", "Pickup"}
	}
	body, _ := json.Marshal(map[string]any{"tenant": "big", "memberships": ms})
	resp, err := http.Post(fake+"/_fake/commerce7/memberships", "application/json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("seed memberships: %v %v", resp, err)
	}
	resp.Body.Close()
	// 120 requests a minute: a burst of 10, 1.8 a second after it; the listing's 30 pages
	// take ~15 s.
	big := testfactory.Client(t, pool, testfactory.ClientOpts{Name: "Big", Tenant: "big", RateLimitPerMinute: 120})
	bigTier := testfactory.Tier(t, pool, big, testfactory.TierOpts{Name: "Gold", C7ClubID: "club-gold", C7DeliveryMethod: "Pickup"})
	opts := make([]testfactory.CustomerOpts, bigMembers)
	for i, c := range seeded {
		opts[i] = testfactory.CustomerOpts{Email: c.email, CRMID: c.id, CurrentTierID: bigTier}
	}
	enrolls := make([]testfactory.EnrollmentOpts, bigMembers)
	for i, c := range testfactory.CustomersWith(t, pool, big, opts) {
		enrolls[i] = testfactory.EnrollmentOpts{CustomerID: c, TierID: bigTier}
	}
	testfactory.Enrollments(t, pool, enrolls)
	small := testfactory.Client(t, pool, testfactory.ClientOpts{Name: "Small", Tenant: "small", RateLimitPerMinute: 100})
	smallTier := testfactory.Tier(t, pool, small, testfactory.TierOpts{Name: "Gold", C7ClubID: "club-gold", C7DeliveryMethod: "Pickup"})

	listen := freeAddr(t)
	startReplica(t, []string{
		"DATABASE_URL=" + dbURL, "TIERSYNC_API_TOKEN=" + systemToken,
		"TIERSYNC_SECRET_KEY=" + "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU=",
		"COMMERCE7_API_URL=" + fake + "/v1", "COMMERCE7_APP_ID=tiersync-demo", "COMMERCE7_KEY=demo-secret",
		"WORKERS=4", "POLL_INTERVAL=100ms", "LISTEN_ADDR=" + listen, "LOG_LEVEL=warn",
		"SCHEDULE_EXPIRE=off", "SCHEDULE_SYNC=off", "SCHEDULE_RECONCILE=off",
	})
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
	resp, err = http.Get(fake + "/_fake/commerce7/requests")
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
