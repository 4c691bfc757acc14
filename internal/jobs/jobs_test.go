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
	"tiersync/internal/testfactory"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestSweep: the sweep reports the queue (through process_crm_sync_queue), prunes finished
// rows past retention, keeps failed ones, and alerts.
func TestSweep(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	ctx := context.Background()
	client := testfactory.Client(t, pool, testfactory.ClientOpts{})
	tier := testfactory.Tier(t, pool, client, testfactory.TierOpts{})
	customer := testfactory.Customer(t, pool, client, testfactory.CustomerOpts{})
	old := time.Now().Add(-90 * 24 * time.Hour)
	row := testfactory.QueueRowOpts{CustomerID: customer, TierID: tier}
	with := func(f func(o *testfactory.QueueRowOpts)) testfactory.QueueRowOpts { o := row; f(&o); return o }
	testfactory.QueueRows(t, pool, []testfactory.QueueRowOpts{
		row,
		row,
		with(func(o *testfactory.QueueRowOpts) {
			o.Status, o.Attempts, o.ErrorMessage, o.CreatedAt, o.UpdatedAt = "failed", 5, "HTTP 422", old, old
		}),
		with(func(o *testfactory.QueueRowOpts) {
			o.Status, o.Attempts, o.CompletedAt, o.CreatedAt, o.UpdatedAt = "completed", 1, old, old, old
		}),
		with(func(o *testfactory.QueueRowOpts) { o.Status, o.Attempts = "completed", 1 }),
	})
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
