package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/apperr"
)

// Config tunes the engine. Zero values take the defaults in brackets.
type Config struct {
	// Workers is how many rows this process runs at once [16].
	Workers int
	// PollInterval is how often the claimer looks for due rows without a wake-up [1s];
	// it bounds the latency a lost notification costs, never a row.
	PollInterval time.Duration
	// Lease is how long a claimed row stays this worker's without a heartbeat [30s]. The
	// heartbeat renews it every Lease/3; the rescuer looks for lapsed leases as often.
	Lease time.Duration
	// BackoffBase and BackoffMax: a retry waits BackoffBase·2^attempts, at most BackoffMax,
	// ±Jitter [1m, 24h, 0.1].
	BackoffBase time.Duration
	BackoffMax  time.Duration
	Jitter      float64
	// NotifyMode is "listen" (wake on NOTIFY, on a dedicated connection) or "poll" [listen].
	NotifyMode string
	// WaitPoll is how often Wait re-reads a row another replica may finish [100ms].
	WaitPoll time.Duration
	// WorkerID names this process in locked_by and the attempt history [host-pid-random].
	WorkerID string
	// Now is the clock; nil means the database's now(). Tests inject one to move time.
	Now func() time.Time
	// Rand returns a number in [0, 1) for the jitter [math/rand/v2].
	Rand   func() float64
	Logger *slog.Logger
	// Limiter is the rate limiter the claim consults, shared with the CRM clients (see
	// NewLimiter) [one over the same pool, on the queue's clock].
	Limiter *Limiter
}

func (c *Config) defaults() {
	if c.Workers <= 0 {
		c.Workers = 16
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.Lease <= 0 {
		c.Lease = 30 * time.Second
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = time.Minute
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 24 * time.Hour
	}
	if c.Jitter < 0 || c.Jitter >= 1 {
		c.Jitter = 0
	} else if c.Jitter == 0 {
		c.Jitter = 0.1
	}
	if c.NotifyMode == "" {
		c.NotifyMode = "listen"
	}
	if c.WaitPoll <= 0 {
		c.WaitPoll = 100 * time.Millisecond
	}
	if c.WorkerID == "" {
		host, _ := os.Hostname()
		c.WorkerID = fmt.Sprintf("%s-%d-%04x", host, os.Getpid(), rand.IntN(1<<16))
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Queue runs a Handler over the rows of crm_sync_queue.
type Queue struct {
	pool    *pgxpool.Pool
	handler Handler
	cfg     Config
	log     *slog.Logger

	wake chan struct{} // a nudge for the claimer: a NOTIFY, a free worker
	// jobs feeds the workers. The claimer keeps up to windowFactor×Workers rows claimed
	// (running or waiting here), so a worker that finishes finds its next row at hand
	// instead of waiting for a claim round trip; a waiting row is held for a few handler
	// durations at most, against a lease of seconds that the heartbeat renews anyway.
	jobs    chan Job
	claimed atomic.Int64 // rows claimed whose handler has not returned

	mu       sync.Mutex
	inflight map[int64]*running
	waiters  map[int64][]chan struct{}
	started  bool
	stopping bool

	loops    sync.WaitGroup // claimer, listener, rescuer
	hbDone   sync.WaitGroup // the heartbeat, which outlives the loops until the last outcome is written
	handlers sync.WaitGroup // the worker goroutines
	cancel   context.CancelFunc
	cancelHB context.CancelFunc
	writer   *writer
	limiter  *Limiter
	metrics  *Metrics // nil until NewMetrics
}

// running is a row a handler of this process is working on.
type running struct {
	attempt int
	cancel  context.CancelCauseFunc
}

// New makes an engine; Start runs its workers. RunDue, RunOne and Wait work without Start
// (a replica with WORKERS=0 still serves /api/cron/sync).
func New(pool *pgxpool.Pool, handler Handler, cfg Config) *Queue {
	cfg.defaults()
	q := &Queue{
		pool:     pool,
		handler:  handler,
		cfg:      cfg,
		log:      cfg.Logger.With(slog.String("worker", cfg.WorkerID)),
		wake:     make(chan struct{}, 1),
		jobs:     make(chan Job, windowFactor*cfg.Workers),
		inflight: map[int64]*running{},
		waiters:  map[int64][]chan struct{}{},
	}
	q.writer = newWriter(q)
	q.limiter = cfg.Limiter
	if q.limiter == nil {
		q.limiter = &Limiter{pool: pool, now: q.sqlNow}
	}
	return q
}

// Limiter is the shared per-client rate limiter the CRM clients take tokens from.
func (q *Queue) Limiter() *Limiter { return q.limiter }

// WorkerID is this engine's name in locked_by.
func (q *Queue) WorkerID() string { return q.cfg.WorkerID }

// now is the injected clock for SQL: nil lets the database use its own now().
func (q *Queue) sqlNow() *time.Time {
	if q.cfg.Now == nil {
		return nil
	}
	t := q.cfg.Now()
	return &t
}

func (q *Queue) clock() time.Time {
	if q.cfg.Now != nil {
		return q.cfg.Now()
	}
	return time.Now()
}

// Start runs the claimer, the workers, the heartbeat, the rescuer and (in listen mode)
// the listener until Stop.
func (q *Queue) Start(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started {
		return errors.New("queue already started")
	}
	q.started = true
	base := context.WithoutCancel(ctx)
	var hbCtx context.Context
	hbCtx, q.cancelHB = context.WithCancel(base)
	ctx, q.cancel = context.WithCancel(base)
	q.writer.start()
	q.hbDone.Add(1)
	go func() {
		defer q.hbDone.Done()
		q.heartbeatLoop(hbCtx)
	}()
	for range q.cfg.Workers {
		q.handlers.Add(1)
		go func() {
			defer q.handlers.Done()
			for j := range q.jobs {
				q.process(j, q.writer.submit, func() {
					q.claimed.Add(-1)
					q.nudge()
				})
			}
		}()
	}
	loops := []func(context.Context){q.claimLoop, q.rescueLoop}
	if q.cfg.NotifyMode == "listen" {
		loops = append(loops, q.listenLoop)
	}
	for _, loop := range loops {
		q.loops.Add(1)
		go func() {
			defer q.loops.Done()
			loop(ctx)
		}()
	}
	q.log.Info("queue started", slog.Int("workers", q.cfg.Workers), slog.String("notify_mode", q.cfg.NotifyMode),
		slog.Duration("lease", q.cfg.Lease))
	return nil
}

// Stop stops claiming, lets running rows finish until ctx ends, then releases the rest:
// they go back to pending with their lease cleared and their attempt given back.
func (q *Queue) Stop(ctx context.Context) error {
	q.mu.Lock()
	if !q.started || q.stopping {
		q.mu.Unlock()
		return nil
	}
	q.stopping = true
	q.mu.Unlock()

	q.cancel() // claimer, listener and rescuer stop; the heartbeat goes on until the last outcome is written
	q.loops.Wait()
	// Rows claimed but not started go straight back, their attempt given back.
	q.releaseUnstarted()
	close(q.jobs) // the claimer has stopped: nothing else sends; workers exit when idle
	finished := make(chan struct{})
	go func() { q.handlers.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-ctx.Done():
		q.mu.Lock()
		n := len(q.inflight)
		for _, r := range q.inflight {
			r.cancel(errStopping)
		}
		q.mu.Unlock()
		q.log.Warn("stop deadline reached: releasing running rows", slog.Int("rows", n))
		<-finished // handlers must honour ctx; a row's CRM deadline is shorter than its lease
	}
	q.writer.stop() // flushes every outcome still buffered
	q.cancelHB()
	q.hbDone.Wait()
	q.log.Info("queue stopped")
	return nil
}

var errStopping = errors.New("queue stopping")

// releaseUnstarted hands back the rows claimed but not yet picked up by a worker.
func (q *Queue) releaseUnstarted() {
	var released int
	for {
		select {
		case j := <-q.jobs:
			now := q.clock()
			msg := "released: the worker stopped before the attempt started"
			q.writer.submit(outcome{id: j.ID, attempt: j.Attempt, status: StatusPending, kind: "released",
				err: &msg, started: now, finished: now}, func(err error) {
				if err != nil {
					q.log.Error("release failed; the lease will lapse instead", slog.Int64("id", j.ID), slog.String("error", err.Error()))
				}
				q.mu.Lock()
				delete(q.inflight, j.ID)
				q.mu.Unlock()
				q.signal([]int64{j.ID})
			})
			q.claimed.Add(-1)
			released++
		default:
			if released > 0 {
				q.log.Info("released unstarted rows", slog.Int("rows", released))
			}
			return
		}
	}
}

// nudge wakes the claimer without blocking.
func (q *Queue) nudge() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// The claim window, in multiples of Workers. Under a backlog the claimer waits until
// batchFactor×Workers rows of the window are free, then claims them in one statement.
// The fair claim (per-client round-robin, per-customer order, token caps) costs a few
// milliseconds a statement whatever its size, so the batch size sets the drain rate:
// window 2, batch 1 drained 50 000 no-op rows at ~9 800 jobs/s with 16 workers; window 3,
// batch 2 at ~13 600, as fast as the simple claim it replaced (docs/benchmarks.md). A
// bigger batch does not delay anybody: fairness is per claim, and a row waits in the
// window only while every worker is busy.
const (
	windowFactor = 3
	batchFactor  = 2
)

// claimLoop keeps the workers fed: it claims due rows up to windowFactor×Workers in hand,
// and sleeps until a NOTIFY, a freed worker or the poll interval.
func (q *Queue) claimLoop(ctx context.Context) {
	ticker := time.NewTicker(q.cfg.PollInterval)
	defer ticker.Stop()
	// While there is a backlog, wait until batchFactor×Workers rows are free so that
	// each claim is a big one: fewer, larger statements.
	backlog := false
	// After a failed claim (the database restarting, a connection it dropped) the claimer
	// tries again soon, backing off to 5 s, rather than waiting for a wake-up that may have
	// come and gone, or for a poll interval that may be long.
	var retry <-chan time.Time
	failDelay := 50 * time.Millisecond
	for {
		retry = nil
		free := windowFactor*q.cfg.Workers - int(q.claimed.Load())
		if free > 0 && (!backlog || free >= batchFactor*q.cfg.Workers) {
			jobs, err := q.claim(ctx, qClaimDue, free)
			if err != nil && ctx.Err() == nil {
				q.log.Warn("claim failed; trying again", slog.Duration("in", failDelay), slog.String("error", err.Error()))
				retry = time.After(failDelay)
				failDelay = min(failDelay*2, 5*time.Second)
			} else if err == nil {
				failDelay = 50 * time.Millisecond
			}
			for _, j := range jobs {
				q.claimed.Add(1)
				q.jobs <- j // never blocks: the buffer holds the whole window
			}
			backlog = len(jobs) == free
			if backlog && ctx.Err() == nil {
				continue // a full batch: there is probably more
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		case <-ticker.C:
		case <-retry:
		}
	}
}

// claim runs one claim statement and returns the rows to run. Rows the claim failed
// (no attempts left) are not returned; their waiters are told.
func (q *Queue) claim(ctx context.Context, sql string, n int, extra ...any) ([]Job, error) {
	args := append([]any{q.sqlNow(), q.cfg.WorkerID, q.cfg.Lease.Milliseconds()}, extra...)
	if sql == qClaimDue {
		args = append(args, n)
	}
	rows, err := q.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	var jobs []Job
	var failed []int64
	for rows.Next() {
		var j Job
		var status string
		if err := rows.Scan(&j.ID, &j.ClientID, &j.CustomerID, &j.EnrollmentID, &j.ActionType, &j.TierID, &j.OldTierID,
			&j.CustomerCRMID, &j.Priority, &j.Attempt, &j.MaxAttempts, &j.CreatedAt, &status); err != nil {
			rows.Close()
			return nil, fmt.Errorf("claim: %w", err)
		}
		if status == StatusFailed {
			failed = append(failed, j.ID)
			continue
		}
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	if len(failed) > 0 {
		q.log.Warn("rows failed at claim: no attempts left", slog.Any("ids", failed))
		q.signal(failed)
	}
	q.mu.Lock()
	for _, j := range jobs {
		q.inflight[j.ID] = &running{attempt: j.Attempt, cancel: func(error) {}}
	}
	q.mu.Unlock()
	return jobs, nil
}

// outcome is what became of one attempt.
type outcome struct {
	id           int64
	attempt      int
	status       string // the row's new status
	kind         string // crm_sync_attempts.outcome
	retryAfterMS int64
	err          *string
	httpStatus   *int
	started      time.Time
	finished     time.Time
}

// process runs the handler for one claimed row, calls handled when the handler returns,
// and hands the outcome to write, which calls back once it is written. The row stays in
// flight (its lease renewed) until then.
func (q *Queue) process(j Job, write func(outcome, func(error)), handled func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	q.mu.Lock()
	q.inflight[j.ID] = &running{attempt: j.Attempt, cancel: cancel}
	q.mu.Unlock()

	started := q.clock()
	err := q.safeHandle(ctx, j)
	o := q.decide(j, err, context.Cause(ctx))
	o.started, o.finished = started, q.clock()
	q.metrics.observe(o)
	if o.kind == "throttled" {
		// Pause the client at once, before the outcome's (batched) write, so that no
		// other worker sends it a request meanwhile.
		pctx, cancelPause := context.WithTimeout(context.Background(), q.cfg.Lease/3)
		if err := q.limiter.Pause(pctx, j.ClientID, time.Duration(o.retryAfterMS)*time.Millisecond); err != nil {
			q.log.Warn("pausing a throttled client failed", slog.String("client", j.ClientID), slog.String("error", err.Error()))
		}
		cancelPause()
	}
	handled()
	write(o, func(err error) {
		cancel(nil)
		if err != nil {
			// The outcome could not be written (the database was gone for a whole lease):
			// the lease lapses and the rescuer hands the row on. CRM operations are
			// idempotent, so running it again is safe.
			q.log.Error("outcome not written", slog.Int64("id", j.ID), slog.String("error", err.Error()))
		}
		q.mu.Lock()
		delete(q.inflight, j.ID)
		q.mu.Unlock()
		q.signal([]int64{j.ID})
	})
}

// safeHandle runs the handler, turning a panic into a retryable error.
func (q *Queue) safeHandle(ctx context.Context, j Job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			q.log.Error("handler panicked", slog.Int64("id", j.ID), slog.Any("panic", p))
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return q.handler(ctx, j)
}

// decide maps the handler's result to the row's next state.
func (q *Queue) decide(j Job, err, cause error) outcome {
	o := outcome{id: j.ID, attempt: j.Attempt}
	if err == nil {
		o.status, o.kind = StatusCompleted, "succeeded"
		return o
	}
	msg := errorMessage(err)
	o.err, o.httpStatus = &msg, httpStatusOf(err)
	switch {
	case errors.Is(cause, errStopping):
		o.status, o.kind = StatusPending, "released"
		released := "released: the worker stopped before the attempt finished"
		o.err = &released
	case errors.As(err, new(*ThrottledError)):
		var t *ThrottledError
		errors.As(err, &t)
		o.status, o.kind = StatusPending, "throttled"
		o.retryAfterMS = t.After.Milliseconds()
	case IsPermanent(err):
		o.status, o.kind = StatusFailed, "failed"
	case j.Attempt >= j.MaxAttempts:
		o.status, o.kind = StatusFailed, "failed"
	default:
		o.status, o.kind = StatusPending, "retry"
		o.retryAfterMS = q.backoff(j.Attempt).Milliseconds()
	}
	return o
}

// backoff is how long a row waits after its attempt-th attempt failed:
// BackoffBase·2^attempt (2, 4, 8, 16 minutes by default), at most BackoffMax, ±Jitter.
func (q *Queue) backoff(attempt int) time.Duration {
	d := float64(q.cfg.BackoffBase) * math.Pow(2, float64(attempt))
	if d > float64(q.cfg.BackoffMax) {
		d = float64(q.cfg.BackoffMax)
	}
	d *= 1 + q.cfg.Jitter*(2*q.cfg.Rand()-1)
	return time.Duration(d)
}

// finish writes a batch of outcomes; it returns the ids the fence accepted.
func (q *Queue) finish(ctx context.Context, batch []outcome) (map[int64]bool, error) {
	n := len(batch)
	ids, attempts, statuses, kinds := make([]int64, n), make([]int32, n), make([]string, n), make([]string, n)
	retry, errs, https := make([]int64, n), make([]*string, n), make([]*int32, n)
	started, finished := make([]time.Time, n), make([]time.Time, n)
	for i, o := range batch {
		ids[i], attempts[i], statuses[i], kinds[i] = o.id, int32(o.attempt), o.status, o.kind
		retry[i], errs[i], started[i], finished[i] = o.retryAfterMS, o.err, o.started, o.finished
		if o.httpStatus != nil {
			s := int32(*o.httpStatus)
			https[i] = &s
		}
	}
	rows, err := q.pool.Query(ctx, qFinish, q.cfg.WorkerID, ids, attempts, statuses, kinds, retry, errs, https,
		started, finished, q.sqlNow())
	if err != nil {
		return nil, fmt.Errorf("write %d outcome(s): %w", n, err)
	}
	accepted, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("write %d outcome(s): %w", n, err)
	}
	ok := make(map[int64]bool, len(accepted))
	for _, id := range accepted {
		ok[id] = true
	}
	for _, o := range batch {
		if !ok[o.id] {
			q.log.Warn("outcome refused: the row is no longer this worker's (lease lost)",
				slog.Int64("id", o.id), slog.Int("attempt", o.attempt), slog.String("outcome", o.kind))
		}
	}
	return ok, nil
}

// signal tells Wait callers that these rows changed.
func (q *Queue) signal(ids []int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, id := range ids {
		for _, ch := range q.waiters[id] {
			close(ch)
		}
		delete(q.waiters, id)
	}
}

// heartbeatLoop renews the leases of every row this process is working on, every Lease/3,
// and stops the handlers of rows it no longer holds.
func (q *Queue) heartbeatLoop(ctx context.Context) {
	ticker := time.NewTicker(q.cfg.Lease / 3)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if err := q.heartbeat(ctx); err != nil && ctx.Err() == nil {
			q.log.Warn("heartbeat failed", slog.String("error", err.Error()))
		}
	}
}

// heartbeat renews the leases once.
func (q *Queue) heartbeat(ctx context.Context) error {
	q.mu.Lock()
	ids := make([]int64, 0, len(q.inflight))
	attempts := make([]int32, 0, len(q.inflight))
	for id, r := range q.inflight {
		ids, attempts = append(ids, id), append(attempts, int32(r.attempt))
	}
	q.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, q.cfg.Lease/3)
	defer cancel()
	rows, err := q.pool.Query(ctx, qHeartbeat, q.sqlNow(), q.cfg.Lease.Milliseconds(), q.cfg.WorkerID, ids, attempts)
	if err != nil {
		return fmt.Errorf("renew %d lease(s): %w", len(ids), err)
	}
	kept, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("renew %d lease(s): %w", len(ids), err)
	}
	held := make(map[int64]bool, len(kept))
	for _, id := range kept {
		held[id] = true
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, id := range ids {
		if r, ok := q.inflight[id]; ok && !held[id] && r.attempt == int(attempts[i]) {
			q.log.Warn("lease lost: stopping the handler", slog.Int64("id", id))
			r.cancel(errLeaseLost)
		}
	}
	return nil
}

var errLeaseLost = errors.New("lease lost")

// rescueLoop hands lapsed leases back to the queue every Lease/3.
func (q *Queue) rescueLoop(ctx context.Context) {
	ticker := time.NewTicker(q.cfg.Lease / 3)
	defer ticker.Stop()
	for {
		if n, err := q.Rescue(ctx); err != nil && ctx.Err() == nil {
			q.log.Warn("rescue failed", slog.String("error", err.Error()))
		} else if n > 0 {
			q.log.Warn("rescued rows whose lease lapsed", slog.Int("rows", n))
			q.nudge()
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// Rescue hands every row whose lease lapsed back to pending, counting the lost attempt.
// It returns how many rows it rescued.
func (q *Queue) Rescue(ctx context.Context) (int, error) {
	total := 0
	for {
		var n int
		if err := q.pool.QueryRow(ctx, qRescue, q.sqlNow(), 1000).Scan(&n); err != nil {
			return total, fmt.Errorf("rescue lapsed leases: %w", err)
		}
		total += n
		if n < 1000 {
			return total, nil
		}
	}
}

// Wait blocks until row id leaves pending and processing, or ctx ends, and returns its
// status then. It hears of rows this process finishes at once and polls the database for
// rows another replica finishes.
func (q *Queue) Wait(ctx context.Context, id int64) (string, error) {
	ticker := time.NewTicker(q.cfg.WaitPoll)
	defer ticker.Stop()
	for {
		ch := make(chan struct{})
		q.mu.Lock()
		q.waiters[id] = append(q.waiters[id], ch)
		q.mu.Unlock()

		status, err := q.status(context.WithoutCancel(ctx), id)
		if err != nil {
			q.dropWaiter(id, ch)
			return "", err
		}
		if status != StatusPending && status != StatusProcessing {
			q.dropWaiter(id, ch)
			return status, nil
		}
		select {
		case <-ctx.Done():
			q.dropWaiter(id, ch)
			return status, nil
		case <-ch:
		case <-ticker.C:
			q.dropWaiter(id, ch)
		}
	}
}

func (q *Queue) dropWaiter(id int64, ch chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	list := q.waiters[id]
	for i, c := range list {
		if c == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(q.waiters, id)
	} else {
		q.waiters[id] = list
	}
}

func (q *Queue) status(ctx context.Context, id int64) (string, error) {
	var s string
	err := q.pool.QueryRow(ctx, qStatus, id).Scan(&s)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", apperr.NotFoundf("queue row %d not found", id)
	}
	if err != nil {
		return "", fmt.Errorf("read status of row %d: %w", id, err)
	}
	return s, nil
}
