package jobs

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"tiersync/internal/alert"
	"tiersync/internal/crm"
	"tiersync/internal/db/dbtest"
	"tiersync/internal/membership"
	"tiersync/internal/queue"
	"tiersync/internal/reconcile"
	"tiersync/internal/schedule"
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

// TestSweepResumesReconcileRuns: a client's reconcile run left by a dead job run is taken
// up by the next sweep, in the background, as a reconcile-memberships run of its own that
// adopts it; a sweep with nothing left over starts nothing.
func TestSweepResumesReconcileRuns(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	ctx := context.Background()
	client := testfactory.Client(t, pool, testfactory.ClientOpts{})
	resumed := make(chan int64, 1)
	rec := reconcile.New(reconcile.Config{Pool: pool, Listers: func(context.Context, reconcile.Client) (crm.Lister, error) {
		return nil, errors.New("the test's CRM is unreachable")
	}})
	d := Deps{Pool: pool, Store: membership.NewStore(pool, nil), Engine: queue.New(pool, nil, queue.Config{Workers: 1}),
		QueueRetention: time.Hour, Reconciler: rec}
	sched, err := Scheduler(d, Specs{Expire: "off", Sync: "off", Reconcile: "off"}, schedule.Options{Runner: "jobs-test",
		Observe: func(job, status string, _ time.Duration) {
			if job == schedule.JobReconcile {
				resumed <- 1
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	runs := func(job string) int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM job_runs WHERE job_name = $1`, job).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := sched.Trigger(ctx, schedule.JobSync); err != nil {
		t.Fatal(err)
	}
	if n := runs(schedule.JobReconcile); n != 0 {
		t.Fatalf("a sweep with nothing to resume started %d reconcile run(s)", n)
	}

	// A dead process's run: its job run failed by the heartbeat watch, the client's run
	// still listing.
	var dead int64
	if err := pool.QueryRow(ctx, `INSERT INTO job_runs (job_name, trigger, scheduled_for, status, finished_at, error)
	        VALUES ('reconcile-memberships', 'manual', now(), 'failed', now(), 'no heartbeat') RETURNING id`).Scan(&dead); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO reconcile_runs (job_run_id, client_id, dry_run, cursor, pages) VALUES ($1, $2, true, '{"page":3}', 2)`,
		dead, client); err != nil {
		t.Fatal(err)
	}
	if _, err := sched.Trigger(ctx, schedule.JobSync); err != nil {
		t.Fatal(err)
	}
	<-resumed // the background run ended (the CRM is unreachable: the client's run fails)
	var jobRun int64
	var status string
	var dry bool
	if err := pool.QueryRow(ctx, `SELECT job_run_id, status, dry_run FROM reconcile_runs`).Scan(&jobRun, &status, &dry); err != nil {
		t.Fatal(err)
	}
	if jobRun == dead || !dry || status != "failed" {
		t.Fatalf("the client's run: job run %d (the dead one was %d), dry %t, %s; want adopted by the sweep's run, still a dry run", jobRun, dead, dry, status)
	}
	if n := runs(schedule.JobReconcile); n != 2 {
		t.Fatalf("%d reconcile job runs, want the dead one and the sweep's", n)
	}
}
