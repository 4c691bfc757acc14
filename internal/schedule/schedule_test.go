package schedule

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

var clock = func() time.Time { return time.Date(2026, 11, 25, 1, 30, 0, 0, time.UTC) }

func TestThreeReplicasOneSlot(t *testing.T) {
	pool := dbtest.New(t)
	var calls atomic.Int64
	release := make(chan struct{})
	job := Job{Name: JobExpire, Spec: "0 2 * * *", Run: func(ctx context.Context, id int64) (any, error) {
		calls.Add(1)
		<-release // hold the slot while the others try
		return map[string]int{"expired": 3}, nil
	}}
	slot := time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)
	var ran atomic.Int64
	var failed atomic.Value
	returned := make(chan struct{}, 3)
	for i := range 3 {
		s, err := New(pool, Options{Runner: []string{"a", "b", "c"}[i], Now: clock}, job)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			_, did, err := s.RunSlot(context.Background(), JobExpire, slot)
			if err != nil {
				failed.Store(err)
			}
			if did {
				ran.Add(1)
			}
			returned <- struct{}{}
		}()
	}
	// The two losers return while the winner is still inside the job (it cannot return
	// before release): only then let it finish.
	<-returned
	<-returned
	close(release)
	<-returned
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	if ran.Load() != 1 || calls.Load() != 1 {
		t.Fatalf("%d schedulers ran the slot, the job ran %d times", ran.Load(), calls.Load())
	}
	var status, result string
	if err := pool.QueryRow(context.Background(), `SELECT status, result::text FROM job_runs`).Scan(&status, &result); err != nil ||
		status != StatusSucceeded || result != `{"expired": 3}` {
		t.Fatalf("run %s %s (%v)", status, result, err)
	}
}

func TestCrashedRunsAreFailedLiveOnesKept(t *testing.T) {
	pool := dbtest.New(t)
	ctx := context.Background()
	// A run whose process died: running, its heartbeat a minute and a half old (six
	// heartbeats are one minute at the default); and one whose process is only slow:
	// its heartbeat is 50 s old.
	var dead int64
	if err := pool.QueryRow(ctx, `INSERT INTO job_runs (job_name, trigger, scheduled_for, runner, heartbeat_at)
		VALUES ('process-expired-enrollments', 'schedule', '2026-11-24 02:00Z', 'gone-1', now() - interval '90 seconds') RETURNING id`).Scan(&dead); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO job_runs (job_name, trigger, scheduled_for, runner, heartbeat_at)
		VALUES ('process-expired-enrollments', 'schedule', '2026-11-25 02:00Z', 'slow-1', now() - interval '50 seconds')`); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	release := make(chan struct{})
	s, err := New(pool, Options{Runner: "alive", Now: clock}, Job{Name: JobSync, Spec: "*/5 * * * *",
		Run: func(ctx context.Context, id int64) (any, error) {
			close(started)
			<-release
			return nil, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Trigger(ctx, JobSync)
		done <- err
	}()
	<-started
	// This process's own running run: its heartbeat is renewed (set back first, so that
	// the renewal shows).
	if _, err := pool.Exec(ctx, `UPDATE job_runs SET heartbeat_at = now() - interval '1 hour' WHERE runner = 'alive'`); err != nil {
		t.Fatal(err)
	}
	if err := s.Beat(ctx); err != nil {
		t.Fatal(err)
	}
	if fresh := count(t, pool, `SELECT count(*) FROM job_runs WHERE runner = 'alive' AND heartbeat_at > now() - interval '1 minute'`); fresh != 1 {
		t.Fatalf("Beat renewed %d runs of this process, want 1", fresh)
	}
	n, err := s.RecoverCrashed(ctx)
	if err != nil || n != 1 {
		t.Fatalf("recovered %d (%v), want the dead run only", n, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rows, _ := pool.Query(ctx, `SELECT runner, status, coalesce(error, '') FROM job_runs WHERE runner <> 'slow-1' ORDER BY id`)
	defer rows.Close()
	var got []string
	for rows.Next() {
		var runner, status, msg string
		_ = rows.Scan(&runner, &status, &msg)
		got = append(got, runner+":"+status)
		if runner == "gone-1" && !strings.HasPrefix(msg, "the process running it (gone-1) stopped before the run finished: no heartbeat since ") {
			t.Fatalf("error %q", msg)
		}
	}
	if len(got) != 2 || got[0] != "gone-1:failed" || got[1] != "alive:succeeded" {
		t.Fatalf("runs %v", got)
	}
	if slow := count(t, pool, `SELECT count(*) FROM job_runs WHERE runner = 'slow-1' AND status = 'running'`); slow != 1 {
		t.Fatal("a run whose heartbeat is five beats old was failed as dead")
	}
}

func TestTriggerJobsAndRuns(t *testing.T) {
	pool := dbtest.New(t)
	ctx := context.Background()
	var observed []string
	s, err := New(pool, Options{Runner: "r", Now: clock, Observe: func(job, status string, d time.Duration) {
		observed = append(observed, job+":"+status)
	}},
		Job{Name: JobExpire, Spec: "0 2 * * *", Run: func(context.Context, int64) (any, error) {
			return map[string]int{"expired": 0, "queued": 0}, nil
		}},
		Job{Name: JobSync, Spec: "off", Run: func(context.Context, int64) (any, error) {
			return nil, errors.New("CRM unreachable")
		}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Trigger(ctx, "nightly"); err == nil {
		t.Fatal("unknown job accepted")
	}
	r, err := s.Trigger(ctx, JobSync)
	if err != nil || r.Status != StatusFailed || r.Error == nil || *r.Error != "CRM unreachable" || r.Trigger != "manual" || r.FinishedAt == nil {
		t.Fatalf("failing run %+v (%v)", r, err)
	}
	r, err = s.Trigger(ctx, JobExpire)
	if err != nil || r.Status != StatusSucceeded || string(r.Result) != `{"queued": 0, "expired": 0}` {
		t.Fatalf("run %+v (%v)", r, err)
	}
	jobs, err := s.Jobs(ctx)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("jobs %+v (%v)", jobs, err)
	}
	exp, sync := jobs[0], jobs[1]
	if exp.Name != JobExpire || !exp.Enabled || exp.NextRunAt == nil || !exp.NextRunAt.Equal(time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)) ||
		exp.LastRun == nil || exp.LastRun.ID != r.ID {
		t.Fatalf("expire job %+v", exp)
	}
	if sync.Name != JobSync || sync.Enabled || sync.NextRunAt != nil || sync.LastRun == nil || sync.LastRun.Status != StatusFailed {
		t.Fatalf("sync job %+v", sync)
	}
	if fmt.Sprint(observed) != "[process-crm-sync-queue:failed process-expired-enrollments:succeeded]" {
		t.Fatalf("observed %v", observed)
	}
	runs, err := s.Runs(ctx, 20)
	if err != nil || len(runs) != 2 || runs[0].ID != r.ID {
		t.Fatalf("runs %+v (%v)", runs, err)
	}
	if _, err := New(pool, Options{}, Job{Name: JobSync, Spec: "every minute"}); err == nil {
		t.Fatal("a bad spec accepted")
	}
}

func count(t *testing.T, pool *pgxpool.Pool, sql string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
