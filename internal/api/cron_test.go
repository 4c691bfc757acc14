package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func TestCronAPI(t *testing.T) {
	t.Parallel()
	w := newQueueWorld(t, "ada@example.com", "fail@example.com")
	ctx := context.Background()
	// An enrollment that ended yesterday, for the expiration job.
	var customer string
	if err := w.pool.QueryRow(ctx, `INSERT INTO customers (client_id, email, is_club_member, current_tier_id) VALUES ($1, 'old@example.com', true, $2) RETURNING id`,
		w.client, w.tier).Scan(&customer); err != nil {
		t.Fatal(err)
	}
	if _, err := w.pool.Exec(ctx, `INSERT INTO enrollments (client_id, customer_id, tier_id, enrolled_at, expires_at, source)
		VALUES ($1, $2, $3, now() - interval '13 months', now() - interval '1 month', 'api')`, w.client, customer, w.tier); err != nil {
		t.Fatal(err)
	}
	if status, _ := w.doWith("GET", "/api/cron", "", nil); status != 401 {
		t.Fatalf("no token: %d", status)
	}
	form := map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/x-www-form-urlencoded"}
	cases := []struct {
		name    string
		body    string
		headers map[string]string
		status  int
		want    string // keys of the answer, or a substring of the error
	}{
		{"test (dry run)", "action=test", form, 200, "enrollments,would_expire"},
		{"trigger expiration (form)", "action=trigger&job=process-expired-enrollments", form, 200, "expired,job,queued,run_id"},
		{"sync (form)", "action=sync", form, 200, "failed,processed,succeeded"},
		{"trigger sync (JSON)", `{"action":"trigger","job":"process-crm-sync-queue"}`, nil, 200, "failed,processed,succeeded"},
		{"trigger expiration (JSON)", `{"action":"trigger","job":"process-expired-enrollments"}`, nil, 200, "expired,job,queued,run_id"},
		{"unknown action", "action=explode", form, 400, "unknown action"},
		{"unknown job", "action=trigger&job=nightly", form, 400, "unknown job"},
		{"trigger without a job", "action=trigger", form, 400, "needs job="},
		{"no action", `{}`, nil, 400, "action is required"},
		{"unknown JSON field", `{"action":"sync","when":"now"}`, nil, 400, "unknown field"},
		{"wrong content type", "action=sync", map[string]string{"Authorization": "Bearer " + token, "Content-Type": "text/plain"}, 400, "Content-Type"},
	}
	var answers []map[string]any
	for _, c := range cases {
		h := c.headers
		if h == nil {
			h = map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}
		}
		status, body := w.doWith("POST", "/api/cron", c.body, h)
		got := keys(body)
		if status != 200 {
			got = fmt.Sprint(body["error"])
		}
		if status != c.status || !strings.Contains(got, c.want) {
			t.Fatalf("%s: %d %v, want %d with %q", c.name, status, body, c.status, c.want)
		}
		answers = append(answers, body)
	}
	if answers[0]["would_expire"] != float64(1) || answers[1]["expired"] != float64(1) || answers[1]["queued"] != float64(1) ||
		answers[4]["expired"] != float64(0) {
		t.Fatalf("counts: test %v, first trigger %v, second trigger %v", answers[0], answers[1], answers[4])
	}
	if answers[2]["processed"] != float64(3) || answers[2]["failed"] != float64(1) {
		t.Fatalf("sync %v (two rows plus the expiry's cancel; the fail@ customer's fails)", answers[2])
	}

	status, body := w.do("GET", "/api/cron", "")
	if status != 200 || keys(body) != "jobs,runs" {
		t.Fatalf("GET /api/cron: %d %v", status, body)
	}
	jobsList := body["jobs"].([]any)
	runs := body["runs"].([]any)
	exp := jobsList[0].(map[string]any)
	if len(jobsList) != 3 || keys(exp) != "enabled,last_run,name,next_run_at,schedule" || exp["name"] != "process-expired-enrollments" ||
		exp["schedule"] != "0 2 * * *" || exp["enabled"] != true || exp["last_run"] == nil {
		t.Fatalf("jobs %v", jobsList)
	}
	if sync := jobsList[1].(map[string]any); sync["enabled"] != false || sync["next_run_at"] != nil {
		t.Fatalf("disabled sync job %v", sync)
	}
	if rec := jobsList[2].(map[string]any); rec["name"] != "reconcile-memberships" || rec["enabled"] != false {
		t.Fatalf("disabled reconcile job %v", rec)
	}
	if len(runs) != 4 || keys(runs[0].(map[string]any)) != "error,finished_at,id,job_name,result,scheduled_for,started_at,status,trigger" {
		t.Fatalf("runs %v", runs)
	}
}
