package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/crm"
)

// writer batches outcome writes: whatever outcomes queue up while one batch is being
// written go together in the next statement. When the queue is idle a batch is a single
// outcome written at once, so batching costs no latency; under load it saves a round
// trip per row. Each submitter waits until its outcome is durable (or given up on). One
// goroutine writes: a batch is one statement, and the next batch forms while it runs.
type writer struct {
	pool   *pgxpool.Pool
	worker string
	lease  time.Duration
	clock  engineClock
	log    *slog.Logger

	in chan pending
	wg sync.WaitGroup
}

type pending struct {
	o    outcome
	done func(error)
}

// maxBatch caps one statement's outcomes.
const maxBatch = 500

func newWriter(pool *pgxpool.Pool, worker string, lease time.Duration, clock engineClock, log *slog.Logger) *writer {
	return &writer{pool: pool, worker: worker, lease: lease, clock: clock, log: log, in: make(chan pending, maxBatch)}
}

// linger is how long a batch waits for more outcomes once outcomes are arriving faster
// than one at a time (an idle queue's single outcome is written at once).
const linger = 5 * time.Millisecond

// start runs the writing goroutine until stop.
func (w *writer) start() {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for w.runOnce() {
		}
	}()
}

// stop drains what is queued and returns when it is written; no submit may follow.
func (w *writer) stop() {
	close(w.in)
	w.wg.Wait()
}

// submit queues o; done is called once it is written (or given up on). It blocks only
// when maxBatch outcomes are already waiting: back-pressure on the workers.
func (w *writer) submit(o outcome, done func(error)) {
	w.in <- pending{o: o, done: done}
}

// runOnce waits for an outcome, gathers what else is waiting into a batch, writes it and
// calls back each submitter. It returns false once the writer is stopped and drained.
func (w *writer) runOnce() bool {
	first, ok := <-w.in
	if !ok {
		return false
	}
	batch := []pending{first}
	var timeout <-chan time.Time
more:
	for len(batch) < maxBatch {
		select {
		case p, ok := <-w.in:
			if !ok {
				break more
			}
			batch = append(batch, p)
			continue
		default:
		}
		// Nothing waiting. Under load, give the batch a moment to fill.
		if len(batch) == 1 {
			break
		}
		if timeout == nil {
			timeout = time.After(linger)
		}
		select {
		case p, ok := <-w.in:
			if !ok {
				break more
			}
			batch = append(batch, p)
		case <-timeout:
			break more
		}
	}
	errs := w.write(batch)
	for i, p := range batch {
		p.done(errs[i])
	}
	return true
}

// maxErrorMessage caps error_message (and the attempt history's error) in bytes: the
// same cap as a CRM error's whole text (crm.MaxMessage), enough for what we were doing
// plus the CRM's quoted answer (crm.MaxQuoted), small enough that a row stays small.
const maxErrorMessage = crm.MaxMessage

// clean is the last line of defence before SQL: whatever a handler returned, the message
// becomes valid UTF-8 without NUL, at most maxErrorMessage bytes (crm.CleanText is the
// one cleaner; the queue knows nothing else of CRMs). PostgreSQL refuses invalid UTF-8
// and NUL in text, and one refused outcome fails its whole batch.
func clean(o outcome) outcome {
	if o.err != nil {
		msg := crm.CleanText(*o.err, maxErrorMessage)
		o.err = &msg
	}
	return o
}

// write writes a batch and returns each outcome's error (nil: written, or refused by the
// fence, which finish logs). The batch is one statement; when PostgreSQL refuses it for
// something in it (refused), the outcomes are written one by one, so that a bad outcome
// costs its own row and never its neighbours' — rows of other tenants, which would
// otherwise lose an attempt each when their leases lapse.
func (w *writer) write(batch []pending) []error {
	outcomes := make([]outcome, len(batch))
	for i, p := range batch {
		outcomes[i] = clean(p.o)
	}
	return w.writeOutcomes(outcomes)
}

// writeOutcomes is write after the cleaning (its own function so a test can hand it
// outcomes the cleaner would have fixed, and prove the split and the fallback).
func (w *writer) writeOutcomes(outcomes []outcome) []error {
	errs := make([]error, len(outcomes))
	deadline := time.Now().Add(w.lease)
	err := w.retry(outcomes, deadline)
	if err == nil {
		return errs
	}
	if !refused(err) {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	if len(outcomes) > 1 {
		w.log.Warn("a batch of outcomes was refused; writing them one by one", slog.Int("outcomes", len(outcomes)),
			slog.String("error", err.Error()))
	}
	for i, o := range outcomes {
		errs[i] = w.writeAlone(o, deadline)
	}
	return errs
}

// writeAlone writes one outcome; if PostgreSQL refuses it, it writes it once more with a
// message of plain ASCII that says what happened, so that the row still leaves
// processing with an outcome instead of waiting for its lease to lapse.
func (w *writer) writeAlone(o outcome, deadline time.Time) error {
	err := w.retry([]outcome{o}, deadline)
	if err == nil || !refused(err) {
		return err
	}
	w.log.Error("an outcome was refused; writing it with a plain message", slog.Int64("id", o.id),
		slog.String("outcome", o.kind), slog.String("error", err.Error()))
	fallback := withPlainMessage(o, err)
	if err2 := w.retry([]outcome{fallback}, deadline); err2 != nil {
		return fmt.Errorf("outcome of row %d refused (%w), and again with a plain message: %w", o.id, err, err2)
	}
	return nil
}

// retry writes outcomes, trying again while the database is away or busy, for up to the
// deadline (one lease: past it the leases have lapsed, the rows are someone else's, and
// the fence would refuse the outcomes anyway). A refusal is returned at once: the same
// statement would be refused again.
func (w *writer) retry(outcomes []outcome, deadline time.Time) error {
	delay := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), w.lease/3)
		_, err := w.finish(ctx, outcomes)
		cancel()
		if err == nil || refused(err) {
			return err
		}
		if time.Now().Add(delay).After(deadline) {
			return fmt.Errorf("gave up writing %d outcome(s) after one lease: %w", len(outcomes), err)
		}
		w.log.Warn("writing outcomes failed; retrying", slog.Int("outcomes", len(outcomes)),
			slog.Duration("in", delay), slog.String("error", err.Error()))
		time.Sleep(delay) // backoff between database retries, not test synchronisation
		delay = min(delay*2, 2*time.Second)
	}
}

// refused reports whether PostgreSQL refused the statement for something in it (bad data,
// a constraint), rather than being unreachable, shutting down, out of resources or in a
// conflict a retry resolves: only a refusal is worth splitting a batch over.
func refused(err error) bool {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) || len(pg.Code) < 2 {
		return false
	}
	switch pg.Code[:2] {
	case "08", // connection exception
		"40", // transaction rollback: serialization failure, deadlock
		"53", // insufficient resources
		"55", // object not in prerequisite state: lock not available
		"57", // operator intervention: shutdown, statement timeout, cancel
		"58", // system error
		"XX": // internal error
		return false
	}
	return true
}

// withPlainMessage is o with its message replaced by one that PostgreSQL accepts in any
// encoding: what happened, and the original's printable ASCII.
func withPlainMessage(o outcome, cause error) outcome {
	code := "unknown"
	var pg *pgconn.PgError
	if errors.As(cause, &pg) {
		code = pg.Code
	}
	msg := fmt.Sprintf("the database refused this attempt's error message (SQLSTATE %s); its printable ASCII: ", code)
	if o.err != nil {
		msg += plainASCII(*o.err, maxErrorMessage-len(msg))
	}
	o.err = &msg
	return o
}

// plainASCII keeps s's printable ASCII (other bytes become '?'), at most max bytes.
func plainASCII(s string, max int) string {
	b := make([]byte, 0, min(len(s), max))
	for i := 0; i < len(s) && len(b) < max; i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		b = append(b, c)
	}
	return string(b)
}

// writeNow writes one outcome directly, for RunDue and RunOne, which may run in a process
// whose workers are not started. Like the batches, it cleans the outcome, and writes it
// with a plain message if PostgreSQL refuses it. errLeaseLost: the fence refused it.
func (w *writer) writeNow(o outcome) error {
	o = clean(o)
	ctx, cancel := context.WithTimeout(context.Background(), w.lease/3)
	defer cancel()
	ok, err := w.finish(ctx, []outcome{o})
	if refused(err) {
		w.log.Error("an outcome was refused; writing it with a plain message", slog.Int64("id", o.id),
			slog.String("outcome", o.kind), slog.String("error", err.Error()))
		ok, err = w.finish(ctx, []outcome{withPlainMessage(o, err)})
	}
	if err != nil {
		return err
	}
	if !ok[o.id] {
		return errLeaseLost
	}
	return nil
}

// finish writes a batch of outcomes in one statement; it returns the ids the fence
// accepted (a row no longer this worker's is refused, and logged).
func (w *writer) finish(ctx context.Context, batch []outcome) (map[int64]bool, error) {
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
	rows, err := w.pool.Query(ctx, sqlFinish, pgx.StrictNamedArgs{"worker": w.worker, "ids": ids, "attempts": attempts,
		"statuses": statuses, "outcomes": kinds, "retry_after_ms": retry, "errors": errs, "http_statuses": https,
		"started_at": started, "finished_at": finished, "now": w.clock.sql()})
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
			w.log.Warn("outcome refused: the row is no longer this worker's (lease lost)",
				slog.Int64("id", o.id), slog.Int("attempt", o.attempt), slog.String("outcome", o.kind))
			continue
		}
		w.logOutcome(o)
	}
	return ok, nil
}

// logOutcome logs a failed attempt once it is written, here because every outcome of
// every path (batches, one by one, RunDue and RunOne) is accepted here exactly once: a
// retry at WARN, a row reaching failed at ERROR, never both, and never for an outcome the
// fence refused (another worker's line tells of that row).
func (w *writer) logOutcome(o outcome) {
	if o.kind != "retry" && o.kind != "failed" {
		return
	}
	attrs := []slog.Attr{slog.Int64("id", o.id), slog.String("rate_key", o.rateKey), slog.String("action", o.action),
		slog.Int("attempt", o.attempt), slog.String("class", o.class)}
	if o.httpStatus != nil {
		attrs = append(attrs, slog.Int("http_status", *o.httpStatus))
	}
	if o.err != nil {
		attrs = append(attrs, slog.String("error", *o.err))
	}
	if o.kind == "failed" {
		w.log.LogAttrs(context.Background(), slog.LevelError, "row failed", attrs...)
		return
	}
	attrs = append(attrs, slog.Duration("retry_in", time.Duration(o.retryAfterMS)*time.Millisecond))
	w.log.LogAttrs(context.Background(), slog.LevelWarn, "attempt failed; retrying later", attrs...)
}
