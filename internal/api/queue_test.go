package api_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/api"
	"tiersync/internal/db"
	"tiersync/internal/jobs"
	"tiersync/internal/queue"
	"tiersync/internal/schedule"
)

// queueWorld: an API with an engine (not started: rows run only when asked) whose handler
// fails the rows of customers whose email starts with "fail".
type queueWorld struct {
	*harness
	client, tier string
	ids          map[string]int64 // by customer email
}

func newQueueWorld(t *testing.T, emails ...string) *queueWorld {
	return newQueueWorldWith(t, func(*api.Options, *pgxpool.Pool) {}, emails...)
}

// newQueueWorldWith is newQueueWorld with options of the test's own.
func newQueueWorldWith(t *testing.T, opt func(*api.Options, *pgxpool.Pool), emails ...string) *queueWorld {
	w := &queueWorld{ids: map[string]int64{}}
	var engine *queue.Queue
	w.harness = newHarness(t, func(o *api.Options, pool *pgxpool.Pool) {
		defer opt(o, pool)
		engine = queue.New(pool, func(ctx context.Context, j queue.Job) error {
			var email string
			// A handler reads what its row is about from the row (the job has the engine's fields).
			if err := pool.QueryRow(ctx, `SELECT c.email FROM crm_sync_queue q JOIN customers c ON c.id = q.customer_id
				WHERE q.id = $1`, j.ID).Scan(&email); err != nil {
				return err
			}
			if strings.HasPrefix(email, "fail") {
				return queue.Permanent(errors.New("HTTP 422: Club not found"))
			}
			return nil
		}, queue.Config{Workers: 1})
		o.Engine = engine
		sched, err := jobs.Scheduler(jobs.Deps{Pool: pool, Store: o.Store, Engine: engine, ExpireBatchSize: 100, QueueRetention: time.Hour},
			jobs.Specs{Expire: "0 2 * * *", Sync: "off", Reconcile: "off"}, schedule.Options{Runner: "api-test"})
		if err != nil {
			t.Fatal(err)
		}
		o.Scheduler = sched
	})
	ctx := context.Background()
	// A rate limit high enough for the whole batch: /api/cron/sync claims only as many rows
	// as the client's bucket has tokens.
	status, body := w.do("POST", "/api/clients", `{"name":"Napa","crm_type":"commerce7","tenant":"napa","rate_limit_per_minute":6000}`)
	if status != 201 {
		t.Fatalf("%d %v", status, body)
	}
	w.client = body["id"].(string)
	_, body = w.do("POST", "/api/clients/"+w.client+"/tiers", `{"name":"Gold","rank":1,"duration_months":12,"c7_club_id":"c1ab0000-0000-4000-8000-00000000000e"}`)
	w.tier = body["id"].(string)
	for _, email := range emails {
		var customer string
		if err := w.pool.QueryRow(ctx, `INSERT INTO customers (client_id, email) VALUES ($1, $2) RETURNING id`, w.client, email).Scan(&customer); err != nil {
			t.Fatal(err)
		}
		err := db.InTx(ctx, w.pool, func(tx pgx.Tx) error {
			ids, err := queue.Enqueue(ctx, tx, queue.NewJob{ClientID: w.client, CustomerID: customer, ActionType: queue.ActionAdd, TierID: w.tier})
			w.ids[email] = ids[0]
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func keys(m map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

func TestQueueAPI(t *testing.T) {
	t.Parallel()
	w := newQueueWorld(t, "ada@example.com", "bo@example.com", "fail@example.com")
	for _, path := range []string{"/api/queue", "/api/queue/stats", "/api/queue/1"} {
		if status, _ := w.doWith("GET", path, "", nil); status != 401 {
			t.Fatalf("%s without the token: %d", path, status)
		}
	}
	if status, _ := w.doWith("POST", "/api/cron/sync", "", nil); status != 401 {
		t.Fatalf("/api/cron/sync without the token: %d", status)
	}

	status, body := w.do("GET", "/api/queue/stats", "")
	if status != 200 || keys(body) != "by_action,by_status,oldest_pending_seconds" ||
		keys(body["by_status"].(map[string]any)) != "cancelled,completed,failed,pending,processing" ||
		keys(body["by_action"].(map[string]any)) != "add_membership,cancel_membership,upgrade_membership" ||
		body["by_status"].(map[string]any)["pending"] != float64(3) {
		t.Fatalf("stats: %d %v", status, body)
	}

	status, body = w.do("POST", "/api/cron/sync", "")
	if status != 200 || fmt.Sprint(body) != "map[failed:1 processed:3 succeeded:2]" {
		t.Fatalf("sync: %d %v", status, body)
	}

	status, body = w.do("GET", "/api/queue?status=failed", "")
	items, _ := body["items"].([]any)
	if status != 200 || len(items) != 1 || body["next_cursor"] != nil {
		t.Fatalf("list failed: %d %v", status, body)
	}
	item := items[0].(map[string]any)
	if keys(item) != "action_type,attempts,client_id,completed_at,created_at,customer_crm_id,customer_id,enrollment_id,error_message,id,last_attempt_at,locked_by,locked_until,max_attempts,next_retry_at,old_tier_id,priority,status,tier_id,updated_at" ||
		item["error_message"] != "HTTP 422: Club not found" {
		t.Fatalf("row shape %v", item)
	}
	status, body = w.do("GET", "/api/queue?limit=2", "")
	if status != 200 || len(body["items"].([]any)) != 2 || body["next_cursor"] == nil {
		t.Fatalf("first page: %d %v", status, body)
	}
	status, body = w.do("GET", "/api/queue?limit=2&cursor="+body["next_cursor"].(string), "")
	if status != 200 || len(body["items"].([]any)) != 1 || body["next_cursor"] != nil {
		t.Fatalf("second page: %d %v", status, body)
	}

	failed := fmt.Sprint(w.ids["fail@example.com"])
	done := fmt.Sprint(w.ids["ada@example.com"])
	status, body = w.do("GET", "/api/queue/"+failed, "")
	history, _ := body["history"].([]any)
	if status != 200 || keys(body) != "history,item" || len(history) != 1 ||
		keys(history[0].(map[string]any)) != "attempt,error,finished_at,http_status,id,outcome,started_at,worker" {
		t.Fatalf("one row: %d %v", status, body)
	}

	cases := []struct {
		method, path, body string
		status             int
		check              string // a substring of the answer
	}{
		{"GET", "/api/queue?status=lost", "", 422, "status"},
		{"GET", "/api/queue?client_id=napa", "", 400, "not a UUID"},
		{"GET", "/api/queue/abc", "", 400, "not a positive integer"},
		{"GET", "/api/queue/999999", "", 404, "999999"},
		{"POST", "/api/queue/" + done + "/retry", "", 409, "completed"},
		{"POST", "/api/queue/" + done + "/cancel", "", 409, "completed"},
		{"POST", "/api/queue/" + failed + "/retry?reset_attempts=maybe", "", 400, "reset_attempts"},
		{"POST", "/api/queue/" + failed + "/retry?reset_attempts=true", "", 200, "status:pending"},
		{"POST", "/api/cron/sync", `{"id": 999999}`, 404, "999999"},
		{"POST", "/api/cron/sync", `{"id": ` + done + `}`, 409, "completed"},
		{"POST", "/api/cron/sync", `{"row": 1}`, 400, "unknown field"},
		{"POST", "/api/cron/sync", `{"id": ` + failed + `}`, 200, "status:failed"},
		// Failed now: it is not run again, an operator retries it first (DESIGN §4: another
		// status 409), and its attempts stay as they were.
		{"POST", "/api/cron/sync", `{"id": ` + failed + `}`, 409, "queue row " + failed + " is failed"},
		{"GET", "/api/queue/" + failed, "", 200, "attempts:1"},
		{"POST", "/api/queue/retry-failed?status=pending", "", 422, "failed rows"},
		{"POST", "/api/queue/retry-failed", "", 200, "retried:1"},
		{"POST", "/api/queue/" + failed + "/cancel", "", 200, "status:cancelled"},
		{"POST", "/api/queue/retry-failed", "", 200, "retried:0"},
	}
	for _, c := range cases {
		status, body := w.do(c.method, c.path, c.body)
		if status != c.status || !strings.Contains(fmt.Sprint(body), c.check) {
			t.Fatalf("%s %s %s: %d %v, want %d with %q", c.method, c.path, c.body, status, body, c.status, c.check)
		}
	}
}
