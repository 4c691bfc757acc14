package queue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/apperr"
	"tiersync/internal/db"
	"tiersync/internal/db/dbtest"
	"tiersync/internal/testfactory"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// world is one client with a tier and some customers, for queue rows to point at.
type world struct {
	pool      *pgxpool.Pool
	client    string
	tier      string
	customers []string
}

func newWorld(t testing.TB, customers int) *world {
	t.Helper()
	pool := dbtest.New(t)
	w := &world{pool: pool}
	w.client = testfactory.Client(t, pool, testfactory.ClientOpts{})
	w.tier = testfactory.Tier(t, pool, w.client, testfactory.TierOpts{})
	w.customers = testfactory.Customers(t, pool, w.client, customers)
	return w
}

// enqueue commits n add_membership rows (customers round-robin) and returns their ids.
func (w *world) enqueue(t testing.TB, n int) []int64 {
	t.Helper()
	jobs := make([]NewJob, n)
	for i := range jobs {
		jobs[i] = NewJob{ClientID: w.client, CustomerID: w.customers[i%len(w.customers)], ActionType: ActionAdd, TierID: w.tier}
	}
	var ids []int64
	err := db.InTx(context.Background(), w.pool, func(tx pgx.Tx) error {
		var err error
		ids, err = Enqueue(context.Background(), tx, jobs...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

type row struct {
	Status       string
	Attempts     int
	NextRetryAt  time.Time
	LockedBy     *string
	ErrorMessage *string
}

func (w *world) row(t testing.TB, id int64) row {
	t.Helper()
	var r row
	if err := w.pool.QueryRow(context.Background(), `SELECT status, attempts, next_retry_at, locked_by, error_message
		FROM crm_sync_queue WHERE id = $1`, id).Scan(&r.Status, &r.Attempts, &r.NextRetryAt, &r.LockedBy, &r.ErrorMessage); err != nil {
		t.Fatal(err)
	}
	return r
}

func (w *world) outcomes(t testing.TB, id int64) []string {
	t.Helper()
	rows, err := w.pool.Query(context.Background(), `SELECT outcome FROM crm_sync_attempts WHERE queue_id = $1 ORDER BY id`, id)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (w *world) countStatus(t testing.TB, status string) int {
	t.Helper()
	var n int
	if err := w.pool.QueryRow(context.Background(), `SELECT count(*) FROM crm_sync_queue WHERE status = $1`, status).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// clock is a settable clock for the queue.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}
func (c *clock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newQueue(w *world, h Handler, cfg Config) *Queue {
	cfg.Logger = quiet()
	if cfg.Rand == nil {
		cfg.Rand = func() float64 { return 0.5 } // no jitter: exact backoff
	}
	return New(w.pool, h, cfg)
}

func TestEnqueueIsTransactional(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1)
	ctx := context.Background()
	boom := errors.New("enrollment failed")
	err := db.InTx(ctx, w.pool, func(tx pgx.Tx) error {
		if _, err := Enqueue(ctx, tx, NewJob{ClientID: w.client, CustomerID: w.customers[0], ActionType: ActionAdd, TierID: w.tier}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if n := w.countStatus(t, StatusPending); n != 0 {
		t.Fatalf("%d rows survived the rollback", n)
	}
	ids := w.enqueue(t, 3)
	if len(ids) != 3 || ids[0] >= ids[1] || ids[1] >= ids[2] {
		t.Fatalf("ids %v, want 3 increasing", ids)
	}
	if r := w.row(t, ids[0]); r.Status != StatusPending || r.Attempts != 0 {
		t.Fatalf("fresh row %+v", r)
	}
}

// TestOneNotifyPerTransaction: three Enqueue calls in one transaction wake the workers once.
func TestOneNotifyPerTransaction(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1)
	ctx := context.Background()
	conn, err := pgx.ConnectConfig(ctx, w.pool.Config().ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		t.Fatal(err)
	}
	err = db.InTx(ctx, w.pool, func(tx pgx.Tx) error {
		for range 3 {
			if _, err := Enqueue(ctx, tx, NewJob{ClientID: w.client, CustomerID: w.customers[0], ActionType: ActionAdd, TierID: w.tier}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A sentinel from a later transaction marks the end of what the first one sent.
	if _, err := w.pool.Exec(ctx, `SELECT pg_notify($1, 'sentinel')`, Channel); err != nil {
		t.Fatal(err)
	}
	wakeups := 0
	for {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if n.Payload == "sentinel" {
			break
		}
		wakeups++
	}
	if wakeups != 1 {
		t.Fatalf("%d notifications for one transaction, want 1", wakeups)
	}
}

// TestConcurrentClaimersHandleEachRowOnce: 8 engines (as if 8 replicas) drain 10 000 rows;
// every row is handled exactly once and ends completed.
func TestConcurrentClaimersHandleEachRowOnce(t *testing.T) {
	t.Parallel()
	const rows, engines = 10_000, 8
	w := newWorld(t, 500)
	ids := w.enqueue(t, rows)
	var (
		seen    sync.Map
		handled atomic.Int64
		dupes   atomic.Int64
		all     = make(chan struct{})
	)
	h := func(ctx context.Context, j Job) error {
		if _, loaded := seen.LoadOrStore(j.ID, j.Attempt); loaded {
			dupes.Add(1)
		}
		if handled.Add(1) == rows {
			close(all)
		}
		return nil
	}
	qs := make([]*Queue, engines)
	for i := range qs {
		qs[i] = newQueue(w, h, Config{Workers: 4, WorkerID: fmt.Sprintf("engine-%d", i), PollInterval: 50 * time.Millisecond})
		if err := qs[i].Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-all:
	case <-time.After(2 * time.Minute):
		t.Fatalf("only %d of %d rows handled", handled.Load(), rows)
	}
	for _, q := range qs {
		if err := q.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if d := dupes.Load(); d != 0 {
		t.Fatalf("%d rows handled twice", d)
	}
	if n := w.countStatus(t, StatusCompleted); n != rows {
		t.Fatalf("%d rows completed, want %d", n, rows)
	}
	var attempts, history int
	if err := w.pool.QueryRow(context.Background(), `SELECT sum(attempts), (SELECT count(*) FROM crm_sync_attempts) FROM crm_sync_queue`).Scan(&attempts, &history); err != nil {
		t.Fatal(err)
	}
	if attempts != rows || history != rows {
		t.Fatalf("attempts %d, history rows %d, want %d each", attempts, history, rows)
	}
	for _, id := range []int64{ids[0], ids[rows/2], ids[rows-1]} {
		if _, ok := seen.Load(id); !ok {
			t.Fatalf("row %d never handled", id)
		}
	}
}

// TestLapsedLeaseIsRescuedAndStaleOutcomeFenced: a worker claims a row and dies; once its
// lease lapses the row is rescued, another worker finishes it, and the dead worker's late
// outcome is refused.
func TestLapsedLeaseIsRescuedAndStaleOutcomeFenced(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1)
	clk := newClock()
	id := w.enqueue(t, 1)[0]
	dead := newQueue(w, nil, Config{WorkerID: "dead", Lease: 30 * time.Second, Now: clk.Now})
	jobs, err := dead.claimer.due(context.Background(), 10)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	if r := w.row(t, id); r.Status != StatusProcessing || r.Attempts != 1 || r.LockedBy == nil || *r.LockedBy != "dead" {
		t.Fatalf("claimed row %+v", r)
	}

	var ran atomic.Int64
	alive := newQueue(w, func(context.Context, Job) error { ran.Add(1); return nil }, Config{WorkerID: "alive", Lease: 30 * time.Second, Now: clk.Now})
	// Within the lease: nothing to rescue, nothing due.
	clk.Add(29 * time.Second)
	if n, err := alive.Rescue(context.Background()); err != nil || n != 0 {
		t.Fatalf("rescued %d (%v) inside the lease", n, err)
	}
	if res, _ := alive.RunDue(context.Background(), 10); res.Processed != 0 {
		t.Fatalf("ran a row still leased: %+v", res)
	}
	// Past the lease: rescued, then run by the live worker.
	clk.Add(2 * time.Second)
	if n, err := alive.Rescue(context.Background()); err != nil || n != 1 {
		t.Fatalf("rescued %d (%v), want 1", n, err)
	}
	if r := w.row(t, id); r.Status != StatusPending || r.Attempts != 1 || r.ErrorMessage == nil {
		t.Fatalf("rescued row %+v", r)
	}
	res, err := alive.RunDue(context.Background(), 10)
	if err != nil || res.Succeeded != 1 || ran.Load() != 1 {
		t.Fatalf("RunDue %+v %v (ran %d)", res, err, ran.Load())
	}
	if r := w.row(t, id); r.Status != StatusCompleted || r.Attempts != 2 {
		t.Fatalf("finished row %+v", r)
	}
	// The dead worker wakes up and reports its attempt: refused by the fence.
	msg := "late failure"
	ok, err := dead.writer.finish(context.Background(), []outcome{{id: id, attempt: 1, status: StatusFailed, kind: "failed",
		err: &msg, started: clk.Now(), finished: clk.Now()}})
	if err != nil || ok[id] {
		t.Fatalf("stale outcome accepted (%v)", err)
	}
	if r := w.row(t, id); r.Status != StatusCompleted {
		t.Fatalf("stale outcome changed the row: %+v", r)
	}
	if got := w.outcomes(t, id); fmt.Sprint(got) != "[lease_expired succeeded]" {
		t.Fatalf("history %v", got)
	}
}

func TestBackoffAndFailure(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 3)
	clk := newClock()
	ctx := context.Background()
	calls := map[string]int{}
	var mu sync.Mutex
	h := func(_ context.Context, j Job) error {
		mu.Lock()
		calls[j.OrderKey]++
		mu.Unlock()
		if j.OrderKey == w.customers[1] {
			return Permanent(errors.New("422 customer has no address"))
		}
		return errors.New("503 CRM down")
	}
	q := newQueue(w, h, Config{Now: clk.Now})

	t.Run("retry with 2^attempts minutes, then failed", func(t *testing.T) {
		id := w.enqueue(t, 1)[0]
		for attempt := 1; attempt <= 5; attempt++ {
			res, err := q.RunDue(ctx, 10)
			if err != nil || res.Processed != 1 || res.Failed != 1 {
				t.Fatalf("attempt %d: %+v %v", attempt, res, err)
			}
			r := w.row(t, id)
			if r.Attempts != attempt || r.ErrorMessage == nil || *r.ErrorMessage != "503 CRM down" {
				t.Fatalf("attempt %d: row %+v", attempt, r)
			}
			if attempt == 5 {
				if r.Status != StatusFailed {
					t.Fatalf("after the last attempt: %+v, want failed", r)
				}
				break
			}
			wait := time.Duration(1<<attempt) * time.Minute
			if r.Status != StatusPending || !r.NextRetryAt.Equal(clk.Now().Add(wait)) {
				t.Fatalf("attempt %d: next_retry_at %v, want now + %v (%v)", attempt, r.NextRetryAt, wait, clk.Now().Add(wait))
			}
			// Not due a moment before.
			clk.Add(wait - time.Second)
			if res, _ := q.RunDue(ctx, 10); res.Processed != 0 {
				t.Fatalf("attempt %d: ran before its backoff ended", attempt)
			}
			clk.Add(time.Second)
		}
		if got := w.outcomes(t, id); fmt.Sprint(got) != "[retry retry retry retry failed]" {
			t.Fatalf("history %v", got)
		}
	})

	t.Run("permanent error fails at once", func(t *testing.T) {
		ids, _ := Enqueue(ctx, w.pool, NewJob{ClientID: w.client, CustomerID: w.customers[1], ActionType: ActionAdd, TierID: w.tier})
		if _, err := q.RunDue(ctx, 10); err != nil {
			t.Fatal(err)
		}
		if r := w.row(t, ids[0]); r.Status != StatusFailed || r.Attempts != 1 || *r.ErrorMessage != "422 customer has no address" {
			t.Fatalf("row %+v", r)
		}
	})

	t.Run("claimed at max_attempts fails without running", func(t *testing.T) {
		id := testfactory.QueueRow(t, w.pool, testfactory.QueueRowOpts{CustomerID: w.customers[2], TierID: w.tier, Attempts: 5, MaxAttempts: 5})
		before := calls[w.customers[2]]
		res, err := q.RunDue(ctx, 10)
		if err != nil || res.Processed != 0 {
			t.Fatalf("RunDue %+v %v", res, err)
		}
		r := w.row(t, id)
		if r.Status != StatusFailed || r.Attempts != 5 || r.ErrorMessage == nil || calls[w.customers[2]] != before {
			t.Fatalf("row %+v (handler calls %d)", r, calls[w.customers[2]]-before)
		}
	})
}

func TestBackoffSchedule(t *testing.T) {
	t.Parallel()
	cases := []struct {
		attempt int
		rand    float64
		want    time.Duration
	}{
		{1, 0.5, 2 * time.Minute},
		{2, 0.5, 4 * time.Minute},
		{3, 0.5, 8 * time.Minute},
		{4, 0.5, 16 * time.Minute},
		{4, 0, 16 * time.Minute * 9 / 10},  // -10 %
		{4, 1, 16 * time.Minute * 11 / 10}, // +10 %
		{30, 0.5, 24 * time.Hour},          // capped
	}
	for _, c := range cases {
		q := New(nil, nil, Config{Rand: func() float64 { return c.rand }, Logger: quiet()})
		if got := q.executor.backoff(c.attempt); got.Round(time.Millisecond) != c.want {
			t.Errorf("backoff(%d) with rand %.1f = %v, want %v", c.attempt, c.rand, got, c.want)
		}
	}
}

func TestRunOne(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 2)
	clk := newClock()
	ctx := context.Background()
	fail := true
	q := newQueue(w, func(context.Context, Job) error {
		if fail {
			return errors.New("timeout")
		}
		return nil
	}, Config{Now: clk.Now})
	id := w.enqueue(t, 1)[0]
	if st, err := q.RunOne(ctx, id); err != nil || st != StatusPending {
		t.Fatalf("first run: %q %v", st, err)
	}
	// In backoff: RunDue skips it, RunOne runs it anyway.
	fail = false
	if res, _ := q.RunDue(ctx, 10); res.Processed != 0 {
		t.Fatal("RunDue ran a row in backoff")
	}
	if st, err := q.RunOne(ctx, id); err != nil || st != StatusCompleted {
		t.Fatalf("run now: %q %v", st, err)
	}
	if _, err := q.RunOne(ctx, id); apperr.KindOf(err) != apperr.Conflict {
		t.Fatalf("completed row: %v, want a conflict", err)
	}
	if _, err := q.RunOne(ctx, 987654321); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("unknown row: %v, want not found", err)
	}

	// A row already failed is a conflict (an operator retries it first); a pending row
	// with no attempts left is failed by the claim, and that is the answer.
	ids := w.enqueue(t, 2)
	if _, err := w.pool.Exec(ctx, `UPDATE crm_sync_queue SET status = 'failed', error_message = 'x' WHERE id = $1`, ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := q.RunOne(ctx, ids[0]); apperr.KindOf(err) != apperr.Conflict || !strings.Contains(err.Error(), "is failed") {
		t.Fatalf("failed row: %v, want a conflict saying it is failed", err)
	}
	if _, err := w.pool.Exec(ctx, `UPDATE crm_sync_queue SET attempts = max_attempts WHERE id = $1`, ids[1]); err != nil {
		t.Fatal(err)
	}
	if st, err := q.RunOne(ctx, ids[1]); err != nil || st != StatusFailed {
		t.Fatalf("pending row with no attempts left: %q %v, want failed", st, err)
	}
}

func TestWait(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 2)
	ctx := context.Background()
	// Only a notification can wake this engine: its poll is an hour.
	worker := newQueue(w, func(context.Context, Job) error { return nil }, Config{WorkerID: "replica-a", PollInterval: time.Hour})
	if err := worker.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer worker.Stop(ctx)

	t.Run("finished by this process", func(t *testing.T) {
		id := w.enqueue(t, 1)[0]
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if st, err := worker.Wait(wctx, id); err != nil || st != StatusCompleted {
			t.Fatalf("Wait = %q %v", st, err)
		}
	})
	t.Run("finished by another replica", func(t *testing.T) {
		other := newQueue(w, nil, Config{WorkerID: "replica-b", WaitPoll: 10 * time.Millisecond})
		id := w.enqueue(t, 1)[0]
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if st, err := other.Wait(wctx, id); err != nil || st != StatusCompleted {
			t.Fatalf("Wait = %q %v", st, err)
		}
	})
	t.Run("deadline while pending", func(t *testing.T) {
		idle := newQueue(w, nil, Config{WorkerID: "idle"})
		id := testfactory.QueueRow(t, w.pool, testfactory.QueueRowOpts{CustomerID: w.customers[1], TierID: w.tier, NextRetryAt: time.Now().Add(24 * time.Hour)})
		wctx, cancel := context.WithCancel(ctx)
		cancel()
		if st, err := idle.Wait(wctx, id); err != nil || st != StatusPending {
			t.Fatalf("Wait = %q %v", st, err)
		}
	})
	t.Run("unknown row", func(t *testing.T) {
		if _, err := worker.Wait(ctx, 123456789); apperr.KindOf(err) != apperr.NotFound {
			t.Fatalf("Wait on unknown row: %v", err)
		}
	})
}

// TestStopReleasesRunningRows: rows still running at the stop deadline go back to pending
// with their attempt given back; a row that finishes in time is completed.
func TestStopReleasesRunningRows(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 3)
	ctx := context.Background()
	started := make(chan int64, 3)
	finishFast := make(chan struct{})
	ids := w.enqueue(t, 3) // three customers: per-customer order does not hold any back
	fastID, slow := ids[0], ids[1:]
	h := func(ctx context.Context, j Job) error {
		started <- j.ID
		if j.ID == fastID {
			<-finishFast
			return nil
		}
		<-ctx.Done() // a CRM call that outlives the deadline; it honours ctx
		return ctx.Err()
	}
	q := newQueue(w, h, Config{Workers: 3, PollInterval: 20 * time.Millisecond})
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		<-started
	}
	sctx, cancel := context.WithCancel(ctx)
	stopped := make(chan error)
	go func() { stopped <- q.Stop(sctx) }()
	close(finishFast) // the fast one finishes inside the grace period
	// Wait until the fast row is written, then end the grace period.
	for w.row(t, fastID).Status != StatusCompleted {
		if _, err := q.Wait(ctx, fastID); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	for _, id := range slow {
		r := w.row(t, id)
		if r.Status != StatusPending || r.Attempts != 0 || r.LockedBy != nil {
			t.Fatalf("released row %d: %+v", id, r)
		}
		if got := w.outcomes(t, id); fmt.Sprint(got) != "[released]" {
			t.Fatalf("history %v", got)
		}
	}
}

func TestPruneKeepsFailedAndRecentRows(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1)
	ctx := context.Background()
	ids := w.enqueue(t, 5)
	set := func(id int64, status, age string) {
		t.Helper()
		if _, err := w.pool.Exec(ctx, `UPDATE crm_sync_queue SET status = $2,
			completed_at = CASE WHEN $2 = 'completed' THEN now() END,
			created_at = now() - $3::interval, updated_at = now() - $3::interval WHERE id = $1`, id, status, age); err != nil {
			t.Fatal(err)
		}
	}
	set(ids[0], StatusCompleted, "40 days")
	set(ids[1], StatusCancelled, "40 days")
	set(ids[2], StatusFailed, "40 days")
	set(ids[3], StatusCompleted, "1 day")
	set(ids[4], StatusPending, "40 days")
	if _, err := w.pool.Exec(ctx, `INSERT INTO crm_sync_attempts (queue_id, attempt, worker, started_at, finished_at, outcome)
		VALUES ($1, 1, 'w', now(), now(), 'succeeded')`, ids[0]); err != nil {
		t.Fatal(err)
	}
	q := newQueue(w, nil, Config{})
	n, err := q.Prune(ctx, 30*24*time.Hour, 1)
	if err != nil || n != 2 {
		t.Fatalf("pruned %d (%v), want 2", n, err)
	}
	var left []int64
	rows, _ := w.pool.Query(ctx, `SELECT id FROM crm_sync_queue ORDER BY id`)
	left, _ = pgx.CollectRows(rows, pgx.RowTo[int64])
	if fmt.Sprint(left) != fmt.Sprint(ids[2:]) {
		t.Fatalf("left %v, want %v", left, ids[2:])
	}
	var attempts int
	_ = w.pool.QueryRow(ctx, `SELECT count(*) FROM crm_sync_attempts`).Scan(&attempts)
	if attempts != 0 {
		t.Fatalf("%d attempts of pruned rows left", attempts)
	}
}

// TestStopReleasesUnstartedRows: with one worker the claimer holds the rest of its window
// ready; Stop hands those back at once (attempt given back), and the running one at the
// deadline. A row never claimed is untouched.
func TestStopReleasesUnstartedRows(t *testing.T) {
	t.Parallel()
	w := newWorld(t, windowFactor+1)
	ctx := context.Background()
	ids := w.enqueue(t, windowFactor+1)
	started := make(chan int64, len(ids))
	q := newQueue(w, func(ctx context.Context, j Job) error {
		started <- j.ID
		<-ctx.Done()
		return ctx.Err()
	}, Config{Workers: 1, PollInterval: time.Hour})
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got := <-started; got != ids[0] {
		t.Fatalf("first row run: %d, want %d", got, ids[0])
	}
	for _, id := range ids[1:windowFactor] {
		if r := w.row(t, id); r.Status != StatusProcessing {
			t.Fatalf("row %d not claimed ahead: %+v", id, r)
		}
	}
	expired, cancel := context.WithCancel(ctx)
	cancel()
	if err := q.Stop(expired); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids[:windowFactor] {
		if r := w.row(t, id); r.Status != StatusPending || r.Attempts != 0 || r.LockedBy != nil {
			t.Fatalf("row %d after Stop: %+v", id, r)
		}
		if got := w.outcomes(t, id); fmt.Sprint(got) != "[released]" {
			t.Fatalf("row %d history %v", id, got)
		}
	}
	last := ids[windowFactor]
	if r := w.row(t, last); r.Status != StatusPending || r.Attempts != 0 || len(w.outcomes(t, last)) != 0 {
		t.Fatalf("unclaimed row touched: %+v", r)
	}
	if len(started) != 0 {
		t.Fatalf("a released row was started: %d", <-started)
	}
}
