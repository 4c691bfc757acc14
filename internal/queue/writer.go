package queue

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// writer batches outcome writes: whatever outcomes queue up while one batch is being
// written go together in the next statement. When the queue is idle a batch is a single
// outcome written at once, so batching costs no latency; under load it saves a round
// trip per row. Each submitter waits until its outcome is durable (or given up on).
type writer struct {
	q  *Queue
	in chan pending
	wg sync.WaitGroup
}

type pending struct {
	o    outcome
	done func(error)
}

// maxBatch caps one statement's outcomes.
const maxBatch = 500

func newWriter(q *Queue) *writer {
	return &writer{q: q, in: make(chan pending, maxBatch)}
}

// writers is how many batches are written at once.
const writers = 1

// linger is how long a batch waits for more outcomes once outcomes are arriving faster
// than one at a time (an idle queue's single outcome is written at once).
const linger = 5 * time.Millisecond

func (w *writer) start() {
	for range writers {
		w.wg.Add(1)
		go w.loop()
	}
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

func (w *writer) loop() {
	defer w.wg.Done()
	for first := range w.in {
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
		err := w.write(batch)
		for _, p := range batch {
			p.done(err)
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
