package queue

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// writer batches outcome writes: whatever outcomes queue up while one batch is being
// written go together in the next statement. When the queue is idle a batch is a single
// outcome written at once, so batching costs no latency; under load it saves a round
// trip per row. Each submitter waits until its outcome is durable (or given up on).
type writer struct {
	q    *Queue
	in   chan pending
	done chan struct{}
}

type pending struct {
	o      outcome
	result chan error
}

// maxBatch caps one statement's outcomes.
const maxBatch = 500

func newWriter(q *Queue) *writer {
	return &writer{q: q, in: make(chan pending, maxBatch), done: make(chan struct{})}
}

func (w *writer) start() { go w.loop() }

// stop drains what is queued and returns when it is written; no submit may follow.
func (w *writer) stop() {
	close(w.in)
	<-w.done
}

// submit queues o and waits until it is written.
func (w *writer) submit(o outcome) error {
	p := pending{o: o, result: make(chan error, 1)}
	w.in <- p
	return <-p.result
}

func (w *writer) loop() {
	defer close(w.done)
	for first := range w.in {
		batch := []pending{first}
	more:
		for len(batch) < maxBatch {
			select {
			case p, ok := <-w.in:
				if !ok {
					break more
				}
				batch = append(batch, p)
			default:
				break more
			}
		}
		err := w.write(batch)
		for _, p := range batch {
			p.result <- err
		}
	}
}

// write retries a failed batch for up to one lease: past that the leases have lapsed,
// the rows are someone else's, and the fence would refuse the outcomes anyway.
func (w *writer) write(batch []pending) error {
	outcomes := make([]outcome, len(batch))
	for i, p := range batch {
		outcomes[i] = p.o
	}
	deadline := time.Now().Add(w.q.cfg.Lease)
	delay := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), w.q.cfg.Lease/3)
		_, err := w.q.finish(ctx, outcomes)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().Add(delay).After(deadline) {
			return fmt.Errorf("gave up writing %d outcome(s) after one lease: %w", len(batch), err)
		}
		w.q.log.Warn("writing outcomes failed; retrying", slog.Int("outcomes", len(batch)),
			slog.Duration("in", delay), slog.String("error", err.Error()))
		time.Sleep(delay) // backoff between database retries, not test synchronisation
		delay = min(delay*2, 2*time.Second)
	}
}

// writeNow writes one outcome directly, for RunDue and RunOne, which may run in a process
// whose workers are not started.
func (q *Queue) writeNow(o outcome) error {
	ctx, cancel := context.WithTimeout(context.Background(), q.cfg.Lease/3)
	defer cancel()
	ok, err := q.finish(ctx, []outcome{o})
	if err != nil {
		return err
	}
	if !ok[o.id] {
		return errLeaseLost
	}
	return nil
}
