package system

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/db"
	"tiersync/internal/db/dbtest"
	"tiersync/internal/devdb"
)

// TestBehindPgBouncer runs the README's pooler configuration ("Behind a connection
// pooler") through Debian's real PgBouncer in transaction mode, whose server pool (6
// connections) is far smaller than the replicas' pools added up (3 × 13). Three replicas
// with DB_POOLER=transaction, two of them listening past the pooler (DATABASE_LISTEN_URL),
// one polling. 2 500 enrollments through the API and 2 500 paid Commerce7 order webhooks
// go to two of them (the load balancer) while the third works the queue and is killed with
// SIGKILL mid-drain, and another started in its place. Then 1 000 enrollments pass their
// expiry, and the expiration job is triggered on two replicas at once. Asserted: 0 HTTP
// 500s (every answer 201/200), every row completed, one membership per customer at the
// fake and exactly the expired ones cancelled, each enrollment expired by exactly one of
// the two runs, every run succeeded but the killed replica's, and no replica logged a
// prepared-statement or startup-parameter error.
func TestBehindPgBouncer(t *testing.T) {
	t.Parallel()
	const (
		enrollments = 2500
		orders      = 2500
		expiring    = 1000
		serverConns = 6
		token       = "system-test-token-0123456789"
	)
	direct := dbtest.NewURL(t)
	// Each CRM answer takes 20 ms, as a real CRM's takes longer: the replica killed below
	// holds rows in flight when it dies, rather than having just finished them (a CI run
	// once killed it in the instant between its last row and its next claim).
	fake := fakeCRMWith(t, "--c7-rate-limit", "-1", "--latency", "20ms")
	ctx := context.Background()
	pool, err := db.Open(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// The README's settings for the database, run as written on this test's database,
	// before PgBouncer opens a server connection.
	for _, stmt := range readmeDatabaseSettings(t) {
		stmt = strings.Replace(stmt, "ALTER DATABASE tiersync ", "ALTER DATABASE "+pgx.Identifier{dbName(t, direct)}.Sanitize()+" ", 1)
		if _, err := pool.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	// After them: settings reach new sessions only, and PgBouncer keeps its server
	// connections (the README says so).
	bouncer := startPgBouncer(t, direct, serverConns)

	const lease = 3 * time.Second
	env := func(listen string, extra ...string) []string {
		return append([]string{
			"DB_POOLER=transaction", "DATABASE_URL=" + bouncer, "TIERSYNC_API_TOKEN=" + token,
			"TIERSYNC_SECRET_KEY=" + "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU=",
			"COMMERCE7_API_URL=" + fake + "/v1", "COMMERCE7_APP_ID=tiersync-demo", "COMMERCE7_KEY=demo-secret",
			"WORKERS=8", "DB_MAX_CONNS=12", "QUEUE_LEASE=" + lease.String(), "POLL_INTERVAL=200ms",
			"LISTEN_ADDR=" + listen, "LOG_LEVEL=warn", "LOG_FORMAT=text",
			// The sweep every minute: scheduled slots race across the replicas too.
			"SCHEDULE_EXPIRE=off", "SCHEDULE_SYNC=* * * * *", "SHUTDOWN_TIMEOUT=5s",
		}, extra...)
	}
	addrs := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	replicas := []*replica{
		startReplica(t, env(addrs[0], "DATABASE_LISTEN_URL="+direct)),
		startReplica(t, env(addrs[1])), // polls
		startReplica(t, env(addrs[2], "DATABASE_LISTEN_URL="+direct)),
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, r := range replicas {
				t.Logf("replica %d's log:\n%s", i, r.log.String())
			}
		}
	})
	for _, a := range addrs {
		waitReady(t, a, 30*time.Second)
	}

	// Every answer is recorded; a 5xx (or a transport error) anywhere fails the test.
	var mu sync.Mutex
	statuses := map[int]int{}
	call := func(base, method, path, body string, header map[string]string) (int, map[string]any) {
		req, _ := http.NewRequest(method, "http://"+base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("%s %s: %v", method, path, err)
			return 0, nil
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		mu.Lock()
		statuses[resp.StatusCode]++
		mu.Unlock()
		if resp.StatusCode >= 500 {
			t.Errorf("%s %s: %d %v", method, path, resp.StatusCode, out)
		}
		return resp.StatusCode, out
	}
	bearer := map[string]string{"Authorization": "Bearer " + token}
	_, client := call(addrs[0], "POST", "/api/clients", `{"name":"Napa","crm_type":"commerce7","tenant":"napa","rate_limit_per_minute":100000}`, bearer)
	clientID, _ := client["id"].(string)
	_, tier := call(addrs[0], "POST", "/api/clients/"+clientID+"/tiers",
		`{"name":"Gold","rank":1,"duration_months":12,"min_purchase_cents":5000,"c7_club_id":"c1ab0000-0000-4000-8000-000000000001","c7_delivery_method":"Pickup","c7_pickup_location_id":"loc-1"}`, bearer)
	tierID, _ := tier["id"].(string)
	hookUser, _ := client["webhook_user"].(string)
	hookPassword, _ := client["webhook_password"].(string)
	if clientID == "" || tierID == "" || hookUser == "" {
		t.Fatalf("client %v, tier %v", client, tier)
	}
	// The order webhooks' customers exist in Commerce7 already (the shop's own customers).
	buyers := seedFakeCustomers(t, fake, "napa", "buyer", orders)

	// The load balancer sends to replicas 0 and 1; replica 2 works the queue, and dies.
	work := make(chan func(base string), 64)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				f(addrs[w%2])
			}
		}()
	}
	completed := func() int { return count(t, pool, `SELECT count(*) FROM crm_sync_queue WHERE status = 'completed'`) }
	// Killed once a third of the rows are done and it holds rows: a kill of a replica
	// holding nothing would prove nothing.
	began := time.Now()
	victim := fmt.Sprint(replicas[2].cmd.Process.Pid)
	killed := make(chan time.Time, 1)
	go func() {
		waitFor(t, 3*time.Minute, "a third of the rows completed while replica 2 holds some", func() bool {
			return completed() >= (enrollments+orders)/3 &&
				count(t, pool, `SELECT count(*) FROM crm_sync_queue WHERE status = 'processing' AND locked_by LIKE '%-' || $1 || '-%'`, victim) > 0
		})
		killed <- replicas[2].kill(t)
	}()
	paid := time.Now().UTC().Format(time.RFC3339)
	for n := 0; n < max(enrollments, orders); n++ {
		if n < enrollments {
			work <- func(base string) {
				status, out := call(base, "POST", "/api/enrollments", fmt.Sprintf(
					`{"client_id":%q,"tier_id":%q,"customer":{"email":"m%d@example.com","first_name":"M","last_name":"N"}}`, clientID, tierID, n), bearer)
				if status != 201 {
					t.Errorf("enrollment %d: %d %v", n, status, out)
				}
			}
		}
		if n < orders {
			b := buyers[n]
			work <- func(base string) {
				body := fmt.Sprintf(`{"object":"Order","action":"Create","tenantId":"napa","user":"shop","payload":{"id":"order-%d","total":6000,"orderPaidDate":%q,"updatedAt":%q,"customerId":%q,"customer":{"email":%q,"firstName":"B","lastName":"O"}}}`,
					n, paid, paid, b.id, b.email)
				auth := map[string]string{"Authorization": basicAuth(hookUser, hookPassword)}
				if status, out := call(base, "POST", "/webhooks/commerce7", body, auth); status != 200 || out["status"] != "accepted" {
					t.Errorf("order %d: %d %v", n, status, out)
				}
			}
		}
	}
	close(work)
	wg.Wait()
	killedAt := <-killed
	replicas = append(replicas, startReplica(t, env(freeAddr(t), "DATABASE_LISTEN_URL="+direct))) // as an orchestrator would
	if t.Failed() {
		t.FailNow()
	}
	total := enrollments + orders
	waitFor(t, 3*time.Minute, "every row completed", func() bool { return completed() == total })
	if open := count(t, pool, `SELECT count(*) FROM crm_sync_queue WHERE status <> 'completed'`); open != 0 {
		t.Fatalf("%d rows not completed", open)
	}
	// The listening replicas (0 and the one started after the kill, once it is up) hold
	// their LISTEN on a direct connection; the polling one (1) holds none.
	listeners := func() int {
		return count(t, pool, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND application_name = 'tiersync-listener' AND query LIKE 'LISTEN%'`)
	}
	waitFor(t, 30*time.Second, "two direct LISTEN connections", func() bool { return listeners() >= 2 })
	if n := listeners(); n != 2 {
		t.Fatalf("%d direct LISTEN connections, want 2 (replica 1 polls)", n)
	}
	rescued := count(t, pool, `SELECT count(*) FROM crm_sync_attempts WHERE outcome = 'lease_expired' AND worker LIKE '%-' || $1 || '-%'`, victim)
	if rescued == 0 {
		t.Fatal("no row of the killed replica was rescued: it held some when it died")
	}

	// A thousand enrollments pass their expiry; the job is triggered on two replicas at once.
	if _, err := pool.Exec(ctx, `UPDATE enrollments SET enrolled_at = now() - interval '13 months', expires_at = now() - interval '1 month'
		WHERE id IN (SELECT id FROM enrollments ORDER BY id LIMIT $1)`, expiring); err != nil {
		t.Fatal(err)
	}
	expired := make(chan float64, 2)
	for _, a := range addrs[:2] {
		go func() {
			status, out := call(a, "POST", "/api/cron", `{"action":"trigger","job":"process-expired-enrollments"}`, bearer)
			n, _ := out["expired"].(float64)
			if status != 200 {
				t.Errorf("trigger on %s: %d %v", a, status, out)
			}
			expired <- n
		}()
	}
	if got := <-expired + <-expired; got != expiring {
		t.Fatalf("the two runs expired %v enrollments in all, want %d: each exactly once", got, expiring)
	}
	waitFor(t, 2*time.Minute, "every cancel completed", func() bool { return completed() == total+expiring })

	// At the fake: one membership per customer, and exactly the expired ones cancelled.
	resp, err := http.Get(fake + "/_fake/commerce7/memberships?tenant=napa")
	if err != nil {
		t.Fatal(err)
	}
	var state struct {
		Memberships []struct{ CustomerID, Status string }
	}
	err = json.NewDecoder(resp.Body).Decode(&state)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	per, cancelled := map[string]int{}, 0
	for _, m := range state.Memberships {
		per[m.CustomerID]++
		if m.Status == "Cancelled" {
			cancelled++
		}
	}
	if len(state.Memberships) != total || len(per) != total || cancelled != expiring {
		t.Fatalf("fake: %d memberships of %d customers, %d cancelled; want %d, one each, %d cancelled",
			len(state.Memberships), len(per), cancelled, total, expiring)
	}

	// Every run succeeded but what the killed replica was running, and each cron slot is
	// one run (two manual runs of the expiration job).
	runs := count(t, pool, `SELECT count(*) FROM job_runs`)
	bad := count(t, pool, `SELECT count(*) FROM job_runs WHERE status <> 'succeeded' AND runner NOT LIKE '%-' || $1 || '-%'`, victim)
	manual := count(t, pool, `SELECT count(*) FROM job_runs WHERE job_name = 'process-expired-enrollments' AND trigger = 'manual' AND status = 'succeeded'`)
	if bad != 0 || manual != 2 {
		t.Fatalf("job runs: %d not succeeded (of %d), %d manual expiration runs succeeded (want 2)", bad, runs, manual)
	}
	for i, r := range replicas {
		if i == 2 {
			continue
		}
		for _, bad := range []string{"prepared statement", "unsupported startup parameter", "SQLSTATE"} {
			if strings.Contains(r.log.String(), bad) {
				t.Fatalf("replica %d logged %q:\n%s", i, bad, r.log.String())
			}
		}
		if strings.Contains(r.log.String(), "DB_POOLER=transaction the database's") {
			t.Fatalf("replica %d warns of the database's settings after the README's ALTER DATABASE:\n%s", i, r.log.String())
		}
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("through PgBouncer (%d server connections): %d requests answered %v, %d rows, a replica killed %v into the load, %d of its rows rescued, %d job runs",
		serverConns, sum(statuses), statuses, total+expiring, killedAt.Sub(began).Round(time.Millisecond), rescued, runs)
}

// startPgBouncer runs Debian's pgbouncer in front of the database at direct, with the
// README's [pgbouncer] settings but for where it listens, how it authenticates and how
// many server connections it opens, and returns a URL through it to the same database.
func startPgBouncer(t *testing.T, direct string, serverConns int) string {
	t.Helper()
	readme := readmePgBouncerSettings(t)
	if readme["pool_mode"] != "transaction" {
		t.Fatalf("the README's pgbouncer.ini has pool_mode %q, want transaction", readme["pool_mode"])
	}
	b, err := devdb.StartPgBouncer(context.Background(), direct, devdb.BouncerOptions{PoolSize: serverConns, Settings: readme})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Stop() })
	return b.URL()
}

// readmePooler is the README's "Behind a connection pooler" section.
func readmePooler(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "### Behind a connection pooler")
	if i < 0 {
		t.Fatal(`README.md has no "### Behind a connection pooler" section`)
	}
	s = s[i:]
	if j := strings.Index(s[4:], "\n## "); j >= 0 {
		s = s[:j+4]
	}
	return s
}

// readmePgBouncerSettings are the [pgbouncer] settings of the section's ini block.
func readmePgBouncerSettings(t *testing.T) map[string]string {
	t.Helper()
	m := regexp.MustCompile("(?s)```ini\n(.*?)```").FindStringSubmatch(readmePooler(t))
	if m == nil {
		t.Fatal("the README's pooler section has no ini block")
	}
	settings, section := map[string]string{}, ""
	sc := bufio.NewScanner(strings.NewReader(m[1]))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[pgbouncer]":
			k, v, _ := strings.Cut(line, "=")
			settings[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return settings
}

// readmeDatabaseSettings are the statements of the section's sql block.
func readmeDatabaseSettings(t *testing.T) []string {
	t.Helper()
	m := regexp.MustCompile("(?s)```sql\n(.*?)```").FindStringSubmatch(readmePooler(t))
	if m == nil {
		t.Fatal("the README's pooler section has no sql block")
	}
	var out []string
	for _, stmt := range strings.Split(m[1], ";") {
		if stmt = strings.TrimSpace(stmt); stmt != "" {
			out = append(out, stmt)
		}
	}
	if len(out) == 0 {
		t.Fatal("the README's sql block is empty")
	}
	return out
}

func dbName(t *testing.T, url string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Database
}

func basicAuth(user, password string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(user, password)
	return req.Header.Get("Authorization")
}

func sum(m map[int]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
