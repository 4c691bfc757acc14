package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/api"
	"tiersync/internal/crm"
	"tiersync/internal/crm/commerce7"
	"tiersync/internal/crm/commerce7/c7test"
	"tiersync/internal/jobs"
	"tiersync/internal/queue"
	"tiersync/internal/reconcile"
	"tiersync/internal/schedule"
	"tiersync/internal/testfactory"
)

// TestReconcileAPI: the trigger answers 202 at once, the report follows the run and pages
// its differences, "repair these" repairs a dry run once, and bad input is a 4xx.
func TestReconcileAPI(t *testing.T) {
	t.Parallel()
	fake, fakeURL := c7test.Start(t, c7test.Options{AppID: "app", AppSecret: "key", RateLimit: -1})
	w := newQueueWorldWith(t, func(o *api.Options, pool *pgxpool.Pool) {
		c7, err := commerce7.New(commerce7.Config{BaseURL: fakeURL, AppID: "app", Key: "key", Limiter: queue.NewLimiter(pool, nil).Low()})
		if err != nil {
			t.Fatal(err)
		}
		rec := reconcile.New(reconcile.Config{Pool: pool, Listers: func(_ context.Context, c reconcile.Client) (crm.Lister, error) {
			return c7.Provider(c.ID, c.Tenant), nil
		}})
		sched, err := jobs.Scheduler(jobs.Deps{Pool: pool, Store: o.Store, Engine: o.Engine, Reconciler: rec},
			jobs.Specs{Expire: "off", Sync: "off", Reconcile: "off"}, schedule.Options{Runner: "api-test"})
		if err != nil {
			t.Fatal(err)
		}
		o.Scheduler, o.Reconciler = sched, rec
	})
	// Three members the CRM never heard of: missing at the CRM.
	for i := range 3 {
		c := testfactory.Customer(t, w.pool, w.client, testfactory.CustomerOpts{Email: fmt.Sprintf("m%d@example.com", i), CRMID: fmt.Sprintf("c7-%d", i)})
		testfactory.Enrollment(t, w.pool, testfactory.EnrollmentOpts{CustomerID: c, TierID: w.tier})
	}
	_ = fake

	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/api/reconcile/runs/1", ""}, {"POST", "/api/reconcile/runs/1/repair", `{}`},
	} {
		if status, _ := w.doWith(tc.method, tc.path, tc.body, nil); status != 401 {
			t.Fatalf("%s %s without the token: %d", tc.method, tc.path, status)
		}
	}

	status, body := w.do("POST", "/api/cron", `{"action":"trigger","job":"reconcile-memberships","dry_run":true,"client_id":"`+w.client+`"}`)
	if status != 202 || body["status"] != "running" || body["dry_run"] != true || body["client_id"] != w.client {
		t.Fatalf("trigger: %d %v", status, body)
	}
	run := int64(body["run_id"].(float64))
	report := fmt.Sprintf("/api/reconcile/runs/%d", run)
	if body["report"] != report {
		t.Fatalf("trigger: report %v, want %s", body["report"], report)
	}
	waitRun(t, w.harness, report)

	status, body = w.do("GET", report+"?limit=2", "")
	clients := body["clients"].([]any)
	if status != 200 || body["status"] != "succeeded" || len(clients) != 1 || len(body["differences"].([]any)) != 2 || body["next_after"] == nil {
		t.Fatalf("report: %d %v", status, body)
	}
	c := clients[0].(map[string]any)
	if c["unrepaired"] != float64(3) || c["differences"].(map[string]any)["missing_at_crm"] != float64(3) || c["dry_run"] != true {
		t.Fatalf("client run: %v", c)
	}
	status, body = w.do("GET", fmt.Sprintf("%s?limit=2&after=%d", report, int64(body["next_after"].(float64))), "")
	if status != 200 || len(body["differences"].([]any)) != 1 || body["next_after"] != nil {
		t.Fatalf("second page: %d %v", status, body)
	}
	d := body["differences"].([]any)[0].(map[string]any)
	if d["kind"] != "missing_at_crm" || d["repair"] != "queue_add" || d["status"] != "confirmed" || d["tier"] != "Gold" ||
		!strings.HasSuffix(d["email"].(string), "@example.com") {
		t.Fatalf("difference: %v", d)
	}
	if status, body = w.do("GET", report+"?kind=wrong_tier", ""); status != 200 || len(body["differences"].([]any)) != 0 {
		t.Fatalf("kind filter: %d %v", status, body)
	}

	status, body = w.do("POST", report+"/repair", `{"client_id":"`+w.client+`"}`)
	if status != 200 || body["repaired"] != float64(3) || body["skipped"] != float64(0) {
		t.Fatalf("repair these: %d %v", status, body)
	}
	var queued int
	if err := w.pool.QueryRow(context.Background(), `SELECT count(*) FROM crm_sync_queue WHERE action_type = 'add_membership' AND priority = $1`,
		queue.PriorityLow).Scan(&queued); err != nil || queued != 3 {
		t.Fatalf("repair these queued %d adds (%v)", queued, err)
	}
	if status, body = w.do("POST", report+"/repair", `{"client_id":"`+w.client+`"}`); status != 409 {
		t.Fatalf("repairing twice: %d %v", status, body)
	}

	for _, tc := range []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/api/reconcile/runs/abc", "", 400},
		{"GET", "/api/reconcile/runs/0", "", 400},
		{"GET", "/api/reconcile/runs/99999", "", 404},
		{"GET", report + "?kind=bogus", "", 400},
		{"GET", report + "?limit=0", "", 400},
		{"GET", report + "?limit=501", "", 400},
		{"GET", report + "?after=-1", "", 400},
		{"GET", report + "?client_id=nope", "", 400},
		{"POST", report + "/repair", `{}`, 400},
		{"POST", report + "/repair", `{"client_id":"nope"}`, 400},
		{"POST", report + "/repair", `{"client_id":"` + w.client + `","extra":1}`, 400},
		{"POST", "/api/cron", `{"action":"trigger","job":"process-expired-enrollments","client_id":"` + w.client + `"}`, 400},
		{"POST", "/api/cron", "action=trigger&job=reconcile-memberships&dry_run=maybe", 400},
		{"POST", "/api/cron", `{"action":"trigger","job":"reconcile-memberships","client_id":"00000000-0000-4000-8000-000000000000"}`, 404},
		{"POST", "/api/cron", `{"action":"trigger","job":"reconcile-memberships","client_id":"nope"}`, 400},
	} {
		status, body := w.do(tc.method, tc.path, tc.body)
		if status != tc.want || body["error"] == nil {
			t.Errorf("%s %s %s: %d %v, want %d with an error", tc.method, tc.path, tc.body, status, body, tc.want)
		}
	}
}

// waitRun waits for a background run to end, as a client following it would.
func waitRun(t *testing.T, h *harness, report string) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(30 * time.Second); ; <-tick.C {
		if _, body := h.do("GET", report, ""); body["status"] != "running" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still running after 30 s", report)
		}
	}
}
