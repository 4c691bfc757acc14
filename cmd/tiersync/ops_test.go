package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"tiersync/internal/crm/commerce7/c7test"
	"tiersync/internal/db/dbtest"
	"tiersync/internal/testfactory"
)

// TestOperatorCommands runs queue, sync and cron from the command line against a real
// database and the fake Commerce7.
func TestOperatorCommands(t *testing.T) {
	t.Parallel()
	fake, fakeURL := c7test.Start(t, c7test.Options{AppID: "app", AppSecret: "key", RateLimit: -1})
	url := dbtest.NewURL(t)
	pool := openPool(t, url)
	client := testfactory.Client(t, pool, testfactory.ClientOpts{Name: "Napa", Tenant: "napa", RateLimitPerMinute: 6000})
	tier := testfactory.Tier(t, pool, client, testfactory.TierOpts{Name: "Gold", C7ClubID: "club-gold", C7DeliveryMethod: "Pickup"})
	members := make([]testfactory.CustomerOpts, 3)
	for i := range members {
		members[i] = testfactory.CustomerOpts{Email: fmt.Sprintf("m%d@example.com", i+1), FirstName: "M", LastName: fmt.Sprintf("N%d", i+1)}
	}
	m := testfactory.CustomersWith(t, pool, client, members)
	// Longer than any column: queue show must print it whole (issue 20.6).
	longError := "commerce7: HTTP 503" + strings.Repeat(" upstream busy,", 20) + " the end of the CRM's answer"
	ids := testfactory.QueueRows(t, pool, []testfactory.QueueRowOpts{
		{CustomerID: m[0], TierID: tier, Status: "failed", Attempts: 5, ErrorMessage: longError},
		{CustomerID: m[1], TierID: tier},
		{CustomerID: m[2], TierID: tier},
	})
	failed, pending1, pending2 := ids[0], ids[1], ids[2]
	env := map[string]string{"DATABASE_URL": url, "COMMERCE7_API_URL": fakeURL, "COMMERCE7_APP_ID": "app", "COMMERCE7_KEY": "key", "LOG_LEVEL": "error"}
	run := func(want int, args ...string) string {
		t.Helper()
		code, out, errOut := runCmd(t, env, args...)
		if code != want {
			t.Fatalf("%v: exit %d, want %d\n%s%s", args, code, want, out, errOut)
		}
		return out
	}

	out := run(0, "queue", "ls")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "NEXT RETRY") ||
		!strings.Contains(out, "commerce7: HTTP 503") || strings.Index(lines[0], "STATUS") != strings.Index(lines[1], "failed") &&
		strings.Index(lines[0], "STATUS") != strings.Index(lines[1], "pending") {
		t.Fatalf("queue ls: aligned table expected:\n%s", out)
	}
	var items []map[string]any
	if err := json.Unmarshal([]byte(run(0, "queue", "ls", "--status", "pending", "--json")), &items); err != nil || len(items) != 2 {
		t.Fatalf("queue ls --json: %v %v", items, err)
	}
	if out := run(0, "queue", "show", fmt.Sprint(failed)); !strings.Contains(out, "failed") || !strings.Contains(out, "ATTEMPT") ||
		!strings.Contains(out, "error: "+longError+"\n") {
		t.Fatalf("queue show: want the whole error:\n%s", out)
	}
	run(1, "queue", "show", "999999")
	run(1, "queue", "cancel", fmt.Sprint(failed+1000000))
	if out := run(0, "queue", "cancel", fmt.Sprint(pending2)); !strings.Contains(out, "cancelled") {
		t.Fatalf("queue cancel:\n%s", out)
	}
	run(1, "queue", "retry", fmt.Sprint(pending2)) // cancelled: 409
	if out := run(0, "queue", "retry", "--failed", "--reset"); out != "retried 1 failed row(s)\n" {
		t.Fatalf("queue retry --failed: %q", out)
	}
	var stats map[string]any
	if err := json.Unmarshal([]byte(run(0, "queue", "stats", "--json")), &stats); err != nil ||
		stats["by_status"].(map[string]any)["pending"] != float64(2) || stats["by_status"].(map[string]any)["cancelled"] != float64(1) {
		t.Fatalf("queue stats: %v %v", stats, err)
	}

	if out := run(0, "sync", "--once"); out != "processed 2: 2 succeeded, 0 failed or waiting to retry\n" {
		t.Fatalf("sync --once: %q", out)
	}
	if n := len(fake.Memberships("napa", "")); n != 2 {
		t.Fatalf("%d memberships at the fake after sync", n)
	}
	_ = pending1

	if out := run(0, "cron", "run", "process-expired-enrollments"); !strings.Contains(out, "succeeded") || !strings.Contains(out, `"expired": 0`) {
		t.Fatalf("cron run: %q", out)
	}
	run(1, "cron", "run", "nightly")
	out = run(0, "cron", "ls")
	if !strings.Contains(out, "process-expired-enrollments  0 2 * * *") || !strings.Contains(out, "manual") {
		t.Fatalf("cron ls:\n%s", out)
	}
	// The run's result stands alone: no "-" for the error it does not have.
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "manual") && !strings.HasSuffix(strings.TrimSpace(line), "}") {
			t.Fatalf("cron ls: the run's line ends in something else than its result:\n%s", out)
		}
	}
	var cron map[string]any
	if err := json.Unmarshal([]byte(run(0, "cron", "ls", "--json")), &cron); err != nil || len(cron["jobs"].([]any)) != 3 || len(cron["runs"].([]any)) != 1 {
		t.Fatalf("cron ls --json: %v %v", cron, err)
	}

	// The synced members have no enrollment here: a dry run finds them extra at the CRM,
	// and queues nothing.
	out = run(0, "reconcile", "--dry-run", "--client", client)
	if !strings.Contains(out, "dry run true") || !regexp.MustCompile(`extra_at_crm\s+2\n`).MatchString(out) ||
		!regexp.MustCompile(`missing_at_crm\s+0\n`).MatchString(out) {
		t.Fatalf("reconcile --dry-run:\n%s", out)
	}
	var queued int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM crm_sync_queue WHERE priority < 0`).Scan(&queued); err != nil || queued != 0 {
		t.Fatalf("a dry run queued %d rows (%v)", queued, err)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(run(0, "reconcile", "--json")), &rec); err != nil || rec["job_name"] != "reconcile-memberships" ||
		rec["result"].(map[string]any)["repaired"] != float64(2) {
		t.Fatalf("reconcile --json: %v %v", rec, err)
	}
	run(1, "reconcile", "--client", "not-a-uuid")
	run(1, "reconcile", "extra-argument")
}
