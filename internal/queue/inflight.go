package queue

import (
	"context"
	"sync"
)

// inflight is the rows this process holds (claimed, running, or with an outcome not yet
// written), with the attempt it holds them for: the heartbeat renews their leases, Stop
// cancels the running ones at its deadline.
type inflight struct {
	mu   sync.Mutex
	rows map[int64]*held
}

// held is one row of this process; cancel stops its handler (a no-op until it runs).
type held struct {
	attempt int
	cancel  context.CancelCauseFunc
}

func newInflight() *inflight { return &inflight{rows: map[int64]*held{}} }

// hold records that this process holds row id for attempt; cancel may be nil.
func (f *inflight) hold(id int64, attempt int, cancel context.CancelCauseFunc) {
	if cancel == nil {
		cancel = func(error) {}
	}
	f.mu.Lock()
	f.rows[id] = &held{attempt: attempt, cancel: cancel}
	f.mu.Unlock()
}

// release forgets row id.
func (f *inflight) release(id int64) {
	f.mu.Lock()
	delete(f.rows, id)
	f.mu.Unlock()
}

// snapshot lists the rows held and their attempts.
func (f *inflight) snapshot() (ids []int64, attempts []int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids, attempts = make([]int64, 0, len(f.rows)), make([]int32, 0, len(f.rows))
	for id, h := range f.rows {
		ids, attempts = append(ids, id), append(attempts, int32(h.attempt))
	}
	return ids, attempts
}

// lost stops the handlers of the rows in ids that were not kept, unless the row is held
// for another attempt by now. It returns the ids it stopped.
func (f *inflight) lost(ids []int64, attempts []int32, kept map[int64]bool) []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var stopped []int64
	for i, id := range ids {
		if h, ok := f.rows[id]; ok && !kept[id] && h.attempt == int(attempts[i]) {
			h.cancel(errLeaseLost)
			stopped = append(stopped, id)
		}
	}
	return stopped
}

// cancelAll stops every handler with cause and returns how many rows are held.
func (f *inflight) cancelAll(cause error) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range f.rows {
		h.cancel(cause)
	}
	return len(f.rows)
}
