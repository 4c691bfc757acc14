package jobs

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"tiersync/internal/alert"
	"tiersync/internal/db/dbtest"
	"tiersync/internal/membership"
	"tiersync/internal/queue"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestSweep: the sweep reports the queue (through process_crm_sync_queue), prunes finished
// rows past retention, keeps failed ones, and alerts.
func TestSweep(t *testing.T) {
	pool := dbtest.New(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `
		WITH c AS (INSERT INTO clients (name, crm_type, tenant, rate_limit_per_minute) VALUES ('N', 'commerce7', 'n', 100) RETURNING id),
		     t AS (INSERT INTO tiers (client_id, crm_type, name, rank, duration_months, c7_club_id, c7_delivery_method)
		           SELECT id, 'commerce7', 'Gold', 1, 12, 'g', 'Ship' FROM c RETURNING id, client_id),
		     cu AS (INSERT INTO customers (client_id, email) SELECT client_id, 'a@example.com' FROM t RETURNING id, client_id)
		INSERT INTO crm_sync_queue (client_id, customer_id, action_type, tier_id, status, attempts, completed_at, error_message, created_at, updated_at)
		SELECT cu.client_id, cu.id, 'add_membership', t.id, s.status, s.attempts, s.completed_at, s.error, s.at, s.at
		FROM cu, t, (VALUES
			('pending', 0, NULL::timestamptz, NULL, now()),
			('pending', 0, NULL, NULL, now()),
			('failed', 5, NULL, 'HTTP 422', now() - interval '90 days'),
			('completed', 1, now() - interval '90 days', NULL, now() - interval '90 days'),
			('completed', 1, now(), NULL, now())) AS s(status, attempts, completed_at, error, at)`)
	if err != nil {
		t.Fatal(err)
	}
	var alerts int
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { alerts++ }))
	defer rcv.Close()
	d := Deps{Pool: pool, Store: membership.NewStore(pool, nil), Engine: queue.New(pool, nil, queue.Config{Workers: 1}),
		QueueRetention: 30 * 24 * time.Hour, Alerter: alert.New(pool, alert.Config{URL: rcv.URL})}
	res, err := Sweep(d)(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := res.(SweepResult)
	if r.Due != 2 || r.Processing != 0 || r.Failed != 1 || r.Pruned != 1 || len(r.Alerts) != 1 || r.Alerts[0] != alert.KindFailed || alerts != 1 {
		t.Fatalf("sweep %+v, %d alert(s) delivered", r, alerts)
	}
	var left int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM crm_sync_queue`).Scan(&left); err != nil || left != 4 {
		t.Fatalf("%d rows left (%v), want 4: the old failed row stays", left, err)
	}
}
