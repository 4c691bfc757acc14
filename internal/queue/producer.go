package queue

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// claimer turns pending rows into this worker's: one claim statement at a time. The
// producer calls it in a loop; RunDue and RunOne call it once.
type claimer struct {
	// cursor is where this claimer's walk of the lanes resumes (see sql/claim_due.sql).
	cursor struct {
		sync.Mutex
		priority int16
		key      string
	}
	pool     *pgxpool.Pool
	worker   string
	lease    time.Duration
	clock    engineClock
	log      *slog.Logger
	inflight *inflight
	waiters  *waiters
}

// due claims up to n due rows in as many claims as it takes: one claim walks at most n
// lanes, and lanes that turn out empty, out of tokens or paused give nothing. It stops
// when a claim saw every lane there was to see, or after a bounded number of claims (each
// puts the lanes it could not serve to sleep, so the next walks others).
func (c *claimer) due(ctx context.Context, n int) ([]Job, error) {
	var jobs []Job
	for range 100 {
		got, more, err := c.once(ctx, n-len(jobs))
		if err != nil {
			if len(jobs) > 0 {
				return jobs, nil // what was claimed is held: run it
			}
			return nil, err
		}
		jobs = append(jobs, got...)
		if len(jobs) >= n || !more {
			break
		}
	}
	return jobs, nil
}

// once claims up to n due rows in one statement, fairly (see sql/claim_due.sql). more
// reports that the claim walked as many lanes as it could take rows: others may be
// waiting behind them.
func (c *claimer) once(ctx context.Context, n int) (jobs []Job, more bool, err error) {
	// Claims of one claimer run one at a time, so each resumes where the last stopped.
	c.cursor.Lock()
	defer c.cursor.Unlock()
	var emptyKeys []string
	var emptyPriorities []int16
	after := struct {
		priority int16
		key      string
	}{c.cursor.priority, c.cursor.key}
	// The claim's connection goes back to the pool before the retraction takes one: a
	// claimer holding one connection while it waits for another can starve a small pool.
	jobs, failed, err := func() ([]Job, []int64, error) {
		// One round trip: a transaction whose only statement is the claim, with bitmap scans
		// off for it (see the probe in sql/claim_due.sql), and JIT, whose compile costs more
		// than the claim once its estimate crosses jit_above_cost (the pool turns it off at
		// connect, which a transaction pooler does not allow: this holds either way).
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		b.Queue("SELECT set_config('enable_bitmapscan', 'off', true), set_config('jit', 'off', true)")
		b.Queue(sqlClaimDue, pgx.StrictNamedArgs{"now": c.clock.sql(), "worker": c.worker,
			"lease_ms": c.lease.Milliseconds(), "limit": n,
			"after_priority": c.cursor.priority, "after_key": c.cursor.key})
		b.Queue("COMMIT")
		br := c.pool.SendBatch(ctx, b)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return nil, nil, fmt.Errorf("claim: begin: %w", err)
		}
		if _, err := br.Exec(); err != nil {
			return nil, nil, fmt.Errorf("claim: settings: %w", err)
		}
		rows, err := br.Query()
		if err != nil {
			return nil, nil, fmt.Errorf("claim: %w", err)
		}
		jobs, failed, err := c.read(rows, func(kind, rateKey string, priority int16) {
			switch kind {
			case "empty":
				emptyKeys, emptyPriorities = append(emptyKeys, rateKey), append(emptyPriorities, priority)
			case "cursor":
				after.priority, after.key = priority, rateKey
			case "more":
				more = true
			}
		})
		if err != nil {
			return nil, nil, err
		}
		if _, err := br.Exec(); err != nil {
			return nil, nil, fmt.Errorf("claim: commit: %w", err)
		}
		return jobs, failed, nil
	}()
	if err != nil {
		return nil, false, err
	}
	// Committed: the rows are this worker's.
	c.cursor.priority, c.cursor.key = after.priority, after.key
	c.held(jobs, failed)
	if len(emptyKeys) > 0 {
		// The rows are claimed (the claim has committed); a failure here only leaves the
		// lanes due, to be found empty again by the next claim.
		if _, err := c.pool.Exec(ctx, sqlRetract, pgx.StrictNamedArgs{"rate_keys": emptyKeys,
			"priorities": emptyPriorities, "now": c.clock.sql()}); err != nil && ctx.Err() == nil {
			c.log.Warn("lanes found empty stay due", slog.Int("lanes", len(emptyKeys)), slog.String("error", err.Error()))
		}
	}
	return jobs, more, nil
}

// one claims pending row id whatever its next_retry_at; none when it is not pending.
func (c *claimer) one(ctx context.Context, id int64) ([]Job, error) {
	rows, err := c.pool.Query(ctx, sqlClaimOne, pgx.StrictNamedArgs{"now": c.clock.sql(), "worker": c.worker,
		"lease_ms": c.lease.Milliseconds(), "id": id})
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	jobs, failed, err := c.read(rows, nil)
	if err != nil {
		return nil, err
	}
	c.held(jobs, failed)
	return jobs, nil
}

// read reads a claim's rows: the jobs to run and the rows the claim failed (no attempts
// left). A row of another kind (claim_due.sql's lanes) goes to other.
func (c *claimer) read(rows pgx.Rows, other func(kind, rateKey string, priority int16)) (jobs []Job, failed []int64, err error) {
	defer rows.Close()
	for rows.Next() {
		var j Job
		var kind string
		var id, priority, attempt, maxAttempts *int64
		var action, rateKey, orderKey, status *string
		var createdAt *time.Time
		dest := []any{&id, &action, &rateKey, &orderKey, &priority, &attempt, &maxAttempts, &createdAt, &status}
		if other != nil {
			dest = append([]any{&kind}, dest...)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, nil, fmt.Errorf("claim: %w", err)
		}
		if other != nil && kind != "row" {
			other(kind, orZero(rateKey), int16(orZero(priority)))
			continue
		}
		j.ID, j.ActionType, j.RateKey, j.OrderKey = *id, *action, *rateKey, *orderKey
		j.Priority, j.Attempt, j.MaxAttempts, j.CreatedAt = int(*priority), int(*attempt), int(*maxAttempts), *createdAt
		if *status == StatusFailed {
			failed = append(failed, j.ID)
			continue
		}
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("claim: %w", err)
	}
	return jobs, failed, nil
}

// held makes a committed claim's jobs this process's, and tells the waiters of the rows
// it failed.
func (c *claimer) held(jobs []Job, failed []int64) {
	if len(failed) > 0 {
		c.log.Error("rows failed at claim: no attempts left", slog.Any("ids", failed))
		c.waiters.signal(failed...)
	}
	for _, j := range jobs {
		c.inflight.hold(j.ID, j.Attempt, nil)
	}
}

// orZero is *p, or the zero value for nil: a lane row of a claim has no job columns.
func orZero[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// The claim window, in multiples of Workers. Under a backlog the producer waits until
// batchFactor×Workers rows of the window are free, then claims them in one statement.
// The fair claim (per-key round-robin, per-order-key order, token caps) costs a few
// milliseconds a statement whatever its size, so the batch size sets the drain rate:
// window 2, batch 1 drained 50 000 no-op rows at ~9 800 jobs/s with 16 workers; window 3,
// batch 2 at ~13 600, as fast as the simple claim it replaced (docs/benchmarks.md). A
// bigger batch does not delay anybody: fairness is per claim, and a row waits in the
// window only while every worker is busy.
const (
	windowFactor = 3
	batchFactor  = 2
)

// maxEmptyClaims bounds the claims in a row that take nothing although lanes remain to walk
// (see producer.run).
const maxEmptyClaims = 8

// producer keeps the workers fed: it claims due rows up to windowFactor×workers in hand
// and hands them out on jobs. The window means a worker that finishes finds its next row
// at hand instead of waiting for a claim round trip; a waiting row is held for a few
// handler durations at most, against a lease of seconds that the heartbeat renews anyway.
type producer struct {
	claimer *claimer
	workers int
	poll    time.Duration
	log     *slog.Logger

	jobs    chan Job      // buffered to the whole window: a send never blocks
	wake    chan struct{} // a nudge: a NOTIFY, a freed worker, a rescue
	claimed atomic.Int64  // rows claimed whose handler has not returned
	// backlog: the last claim filled the window, so there is probably more; the next
	// claim waits until a whole batch is free, making fewer, larger statements.
	backlog bool
}

func newProducer(c *claimer, workers int, poll time.Duration, log *slog.Logger) *producer {
	return &producer{claimer: c, workers: workers, poll: poll, log: log,
		jobs: make(chan Job, windowFactor*workers), wake: make(chan struct{}, 1)}
}

// nudge wakes the producer without blocking.
func (p *producer) nudge() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// handled is called when a handler returns: its place in the window is free.
func (p *producer) handled() {
	p.claimed.Add(-1)
	p.nudge()
}

// runOnce claims once if enough of the window is free, and hands the rows out. It
// returns how many rows it claimed; more reports that the window was filled (there is
// probably more to claim at once).
func (p *producer) runOnce(ctx context.Context) (claimed int, more bool, err error) {
	free := windowFactor*p.workers - int(p.claimed.Load())
	if free <= 0 || (p.backlog && free < batchFactor*p.workers) {
		return 0, false, nil
	}
	jobs, more, err := p.claimer.once(ctx, free)
	if err != nil {
		p.backlog = false
		return 0, false, err
	}
	for _, j := range jobs {
		p.claimed.Add(1)
		p.jobs <- j // never blocks: the buffer holds the whole window
	}
	p.backlog = len(jobs) == free
	return len(jobs), p.backlog || more, nil
}

// run claims until ctx ends, sleeping until a nudge or the poll interval.
func (p *producer) run(ctx context.Context) {
	ticker := time.NewTicker(p.poll)
	defer ticker.Stop()
	// After a failed claim (the database restarting, a connection it dropped) the producer
	// tries again soon, backing off to 5 s, rather than waiting for a wake-up that may have
	// come and gone, or for a poll interval that may be long.
	failDelay := 50 * time.Millisecond
	// Claims in a row that took nothing but saw more lanes to walk (lanes out of tokens or
	// empty, which each such claim puts to sleep). Bounded, so that rows held by someone
	// else's open transaction (skipped, never waited for) cannot keep the producer spinning.
	emptyMore := 0
	for {
		var retry <-chan time.Time
		n, more, err := p.runOnce(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			p.log.Warn("claim failed; trying again", slog.Duration("in", failDelay), slog.String("error", err.Error()))
			retry = time.After(failDelay)
			failDelay = min(failDelay*2, 5*time.Second)
		case err == nil:
			failDelay = 50 * time.Millisecond
			if n > 0 {
				emptyMore = 0
			} else if more {
				emptyMore++
			}
			if more && emptyMore <= maxEmptyClaims && ctx.Err() == nil {
				continue // a full batch, or more lanes to walk: there is probably more
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		case <-ticker.C:
		case <-retry:
		}
	}
}
