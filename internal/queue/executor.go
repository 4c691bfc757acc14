package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"
)

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
	// What the log line of a failed attempt names (logOutcome): the row's rate key (the
	// client), its action, and why it failed (retryable, permanent, attempts_exhausted).
	rateKey string
	action  string
	class   string
}

// executor runs one claimed row: the handler, the decision of the row's next state, and
// the hand-over of that outcome to a writer. It holds no goroutines of its own.
type executor struct {
	handler  Handler
	cfg      Config // backoff, jitter, lease
	clock    engineClock
	log      *slog.Logger
	limiter  *Limiter
	inflight *inflight
	waiters  *waiters
	metrics  *Metrics // nil until NewMetrics
}

var (
	errStopping  = errors.New("queue stopping")
	errLeaseLost = errors.New("lease lost")
)

// execute runs the handler for one claimed row, calls handled when the handler returns,
// and hands the outcome to write, which calls back once it is written. The row stays in
// flight (its lease renewed) until then.
func (e *executor) execute(j Job, write func(outcome, func(error)), handled func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	e.inflight.hold(j.ID, j.Attempt, cancel)

	started := e.clock.time()
	err := e.safeHandle(ctx, j)
	o := e.decide(j, err, context.Cause(ctx))
	o.started, o.finished = started, e.clock.time()
	e.metrics.observe(o)
	if o.kind == "throttled" {
		// Pause the rate key at once, before the outcome's (batched) write, so that no
		// other worker sends it a request meanwhile.
		pctx, cancelPause := context.WithTimeout(context.Background(), e.cfg.Lease/3)
		if err := e.limiter.Pause(pctx, j.RateKey, time.Duration(o.retryAfterMS)*time.Millisecond); err != nil {
			e.log.Warn("pausing a throttled rate key failed", slog.String("rate_key", j.RateKey), slog.String("error", err.Error()))
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
			e.log.Error("outcome not written", slog.Int64("id", j.ID), slog.String("error", err.Error()))
		}
		e.inflight.release(j.ID)
		e.waiters.signal(j.ID)
	})
}

// safeHandle runs the handler, turning a panic into a retryable error.
func (e *executor) safeHandle(ctx context.Context, j Job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			e.log.Error("handler panicked", slog.Int64("id", j.ID), slog.Any("panic", p))
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return e.handler(ctx, j)
}

// decide maps the handler's result to the row's next state.
func (e *executor) decide(j Job, err, cause error) outcome {
	o := outcome{id: j.ID, attempt: j.Attempt, rateKey: j.RateKey, action: j.ActionType}
	if err == nil {
		o.status, o.kind = StatusCompleted, "succeeded"
		return o
	}
	msg := errorMessage(err)
	o.err, o.httpStatus = &msg, httpStatusOf(err)
	var throttled *ThrottledError
	switch {
	case errors.Is(cause, errStopping):
		o.status, o.kind = StatusPending, "released"
		released := "released: the worker stopped before the attempt finished"
		o.err = &released
	case errors.As(err, &throttled):
		o.status, o.kind = StatusPending, "throttled"
		o.retryAfterMS = throttled.After.Milliseconds()
	case IsPermanent(err):
		o.status, o.kind, o.class = StatusFailed, "failed", "permanent"
	case j.Attempt >= j.MaxAttempts:
		o.status, o.kind, o.class = StatusFailed, "failed", "attempts_exhausted"
	default:
		o.status, o.kind, o.class = StatusPending, "retry", "retryable"
		o.retryAfterMS = e.backoff(j.Attempt).Milliseconds()
	}
	return o
}

// backoff is how long a row waits after its attempt-th attempt failed:
// BackoffBase·2^attempt (2, 4, 8, 16 minutes by default), at most BackoffMax, ±Jitter.
func (e *executor) backoff(attempt int) time.Duration {
	d := float64(e.cfg.BackoffBase) * math.Pow(2, float64(attempt))
	if d > float64(e.cfg.BackoffMax) {
		d = float64(e.cfg.BackoffMax)
	}
	d *= 1 + e.cfg.Jitter*(2*e.cfg.Rand()-1)
	return time.Duration(d)
}
