package queue

import (
	"context"
	"errors"
	"testing"
	"time"

	"tiersync/internal/apperr"
)

// Each part of the engine run once, on its own.

// TestProducerRunOnce: with one worker the producer keeps a window of three rows; under a
// backlog it claims again only once a batch of two is free.
func TestProducerRunOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 6)
	ctx := context.Background()
	w.enqueue(t, 6) // six customers: nothing holds a row back
	q := newQueue(w, nil, Config{Workers: 1})
	p := q.producer
	steps := []struct {
		name     string
		handled  int // handlers that returned before this step
		claimed  int
		more     bool
		inWindow int
	}{
		{"fills the window", 0, windowFactor, true, 3},
		{"full window: no claim", 0, 0, false, 3},
		{"one free of a backlog: waits for a batch", 1, 0, false, 2},
		{"a batch free: claims it", 1, batchFactor, true, 3},
		{"the last row", 3, 1, false, 1},
	}
	for _, s := range steps {
		for range s.handled {
			<-p.jobs
			p.handled()
		}
		n, more, err := p.runOnce(ctx)
		if err != nil || n != s.claimed || more != s.more || int(p.claimed.Load()) != s.inWindow || len(p.jobs) != s.inWindow {
			t.Fatalf("%s: claimed %d (more %v, %v), %d in the window (%d queued); want %d, %v, %d",
				s.name, n, more, err, p.claimed.Load(), len(p.jobs), s.claimed, s.more, s.inWindow)
		}
	}
}

// TestHeartbeatRunOnce: a beat renews the leases this process holds and stops the handler
// of a row that another worker holds by now.
func TestHeartbeatRunOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 2)
	ctx := context.Background()
	clk := newClock()
	ids := w.enqueue(t, 2)
	q := newQueue(w, nil, Config{WorkerID: "me", Lease: 30 * time.Second, Now: clk.Now})
	jobs, err := q.claimer.due(ctx, 2)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	causes := map[int64]func() error{}
	for _, j := range jobs {
		jctx, cancel := context.WithCancelCause(ctx)
		q.inflight.hold(j.ID, j.Attempt, cancel)
		causes[j.ID] = func() error { return context.Cause(jctx) }
	}
	// The second row was rescued and claimed by someone else meanwhile.
	if _, err := w.pool.Exec(ctx, `UPDATE crm_sync_queue SET locked_by = 'other' WHERE id = $1`, ids[1]); err != nil {
		t.Fatal(err)
	}
	clk.Add(10 * time.Second)
	if err := q.heartbeat.runOnce(ctx); err != nil {
		t.Fatal(err)
	}
	var until time.Time
	if err := w.pool.QueryRow(ctx, `SELECT locked_until FROM crm_sync_queue WHERE id = $1`, ids[0]).Scan(&until); err != nil {
		t.Fatal(err)
	}
	if want := clk.Now().Add(30 * time.Second); !until.Equal(want) {
		t.Errorf("lease until %v, want %v", until, want)
	}
	if err := causes[ids[0]](); err != nil {
		t.Errorf("the held row's handler was stopped: %v", err)
	}
	if err := causes[ids[1]](); !errors.Is(err, errLeaseLost) {
		t.Errorf("the lost row's handler: %v, want stopped with errLeaseLost", err)
	}
}

// TestRateAndOrderKeys: the engine limits and orders by the keys written on its rows, not
// by client or customer: two clients sharing a rate key share its budget, and two
// customers sharing an order key apply one at a time.
func TestRateAndOrderKeys(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 4)
	ctx := context.Background()
	clk := newClock()
	failing := map[int64]bool{}
	q := newQueue(w, func(_ context.Context, j Job) error {
		if failing[j.ID] {
			return errors.New("503")
		}
		return nil
	}, Config{Now: clk.Now})
	if err := SetRate(ctx, w.pool, "shared", 6); err != nil { // burst 1 (migration 00011)
		t.Fatal(err)
	}
	enqueue := func(rateKey, orderKey string, customer int) int64 {
		t.Helper()
		ids, err := Enqueue(ctx, w.pool, NewJob{ActionType: ActionAdd, RateKey: rateKey, OrderKey: orderKey,
			ClientID: w.client, CustomerID: w.customers[customer], TierID: w.tier})
		if err != nil {
			t.Fatal(err)
		}
		return ids[0]
	}
	t.Run("a shared rate key has one budget", func(t *testing.T) {
		enqueue("shared", "a", 0)
		enqueue("shared", "b", 1)
		jobs, err := q.claimer.due(ctx, 10)
		if err != nil || len(jobs) != 1 || jobs[0].RateKey != "shared" {
			t.Fatalf("claimed %+v (%v), want one row: the bucket holds one token", jobs, err)
		}
	})
	t.Run("a shared order key applies in order", func(t *testing.T) {
		first := enqueue(w.client, "household", 2)
		second := enqueue(w.client, "household", 3)
		failing[first] = true
		if _, err := q.RunDue(ctx, 10); err != nil {
			t.Fatal(err)
		}
		if r := w.row(t, first); r.Status != StatusPending || r.Attempts != 1 {
			t.Fatalf("the first row of the order key: %+v, want tried once and in backoff", r)
		}
		if r := w.row(t, second); r.Status != StatusPending || r.Attempts != 0 {
			t.Fatalf("the second row ran while the first is in backoff: %+v", r)
		}
	})
	t.Run("a rate key without a bucket waits", func(t *testing.T) {
		id := enqueue("nobody-set-my-rate", "c", 0)
		clk.Add(time.Hour)
		if _, err := q.RunDue(ctx, 10); err != nil {
			t.Fatal(err)
		}
		if r := w.row(t, id); r.Status != StatusPending || r.Attempts != 0 {
			t.Fatalf("row of an unknown rate key: %+v, want pending and untried", r)
		}
		if _, _, err := q.Limiter().TryTake(ctx, "nobody-set-my-rate"); err == nil {
			t.Fatal("took a token of a key without a bucket")
		}
	})
}

// TestSetRate: a new bucket starts full; a new rate keeps the tokens and the pause, and
// bounds the burst at once.
func TestSetRate(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1)
	ctx := context.Background()
	clk := newClock()
	l := NewLimiter(w.pool, clk.Now)
	grants := func() int {
		n := 0
		for range 20 {
			ok, _, err := l.TryTake(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				n++
			}
		}
		return n
	}
	if err := SetRate(ctx, w.pool, "k", 600); err != nil { // 10 a second
		t.Fatal(err)
	}
	if n := grants(); n != 10 {
		t.Fatalf("a new bucket at 600/min granted %d, want its burst of 10", n)
	}
	if err := l.Pause(ctx, "k", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := SetRate(ctx, w.pool, "k", 6); err != nil {
		t.Fatal(err)
	}
	clk.Add(30 * time.Second)
	if n := grants(); n != 0 {
		t.Fatalf("a paused bucket granted %d after a rate change", n)
	}
	clk.Add(time.Hour)
	if n := grants(); n != 1 {
		t.Fatalf("an hour later at 6/min: %d grants, want the new burst of 1", n)
	}
	for _, bad := range []struct {
		key  string
		rate int
	}{{"", 10}, {"k", 0}, {"k", -1}} {
		if err := SetRate(ctx, w.pool, bad.key, bad.rate); err == nil {
			t.Errorf("SetRate(%q, %d) accepted", bad.key, bad.rate)
		}
	}
}

// TestFilterCustomerIDs: nil means any customer, an empty list none; ids are checked.
func TestFilterCustomerIDs(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 3)
	ctx := context.Background()
	ids := w.enqueue(t, 3)
	q := newQueue(w, nil, Config{})
	cases := []struct {
		name string
		ids  []string
		want int
		kind apperr.Kind // Internal: no error
	}{
		{"nil: any", nil, 3, apperr.Internal},
		{"empty: none", []string{}, 0, apperr.Internal},
		{"two customers", []string{w.customers[0], w.customers[2]}, 2, apperr.Internal},
		{"not a uuid", []string{"c1@example.com"}, 0, apperr.BadRequest},
		{"too many", make([]string, MaxFilterCustomerIDs+1), 0, apperr.BadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			items, _, err := q.List(ctx, Filter{CustomerIDs: c.ids}, 10, "")
			if c.kind != apperr.Internal {
				if apperr.KindOf(err) != c.kind {
					t.Fatalf("err %v, want kind %d", err, c.kind)
				}
				return
			}
			if err != nil || len(items) != c.want {
				t.Fatalf("%d items (%v), want %d", len(items), err, c.want)
			}
		})
	}
	// RetryFailed takes the same filter.
	if _, err := w.pool.Exec(ctx, `UPDATE crm_sync_queue SET status = 'failed' WHERE id = ANY($1)`, ids); err != nil {
		t.Fatal(err)
	}
	if n, err := q.RetryFailed(ctx, Filter{CustomerIDs: []string{}}, false); err != nil || n != 0 {
		t.Fatalf("retry-failed of no customer: %d %v", n, err)
	}
	if n, err := q.RetryFailed(ctx, Filter{CustomerIDs: []string{w.customers[1]}}, false); err != nil || n != 1 {
		t.Fatalf("retry-failed of one customer: %d %v", n, err)
	}
}

// TestLowPriorityTakes: a low-priority take (reconciliation's reads) leaves half the
// burst in the bucket for live work, waits as long as that reserve needs, and still gets
// the bucket's whole refill when nothing else asks.
func TestLowPriorityTakes(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1)
	ctx := context.Background()
	clk := newClock()
	l := NewLimiter(w.pool, clk.Now)
	if err := SetRate(ctx, w.pool, "k", 100); err != nil { // burst 10, refill 1.5 a second
		t.Fatal(err)
	}
	low := func() (int, time.Duration) {
		n := 0
		for range 20 {
			ok, wait, err := l.tryTake(ctx, "k", true)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				return n, wait
			}
			n++
		}
		return n, 0
	}
	if n, wait := low(); n != 5 || wait != 667*time.Millisecond {
		t.Fatalf("low takes from a full bucket of 10: %d granted, then wait %s; want 5 and 667ms (one token at 1.5/s)", n, wait)
	}
	for i := range 5 {
		if ok, _, err := l.TryTake(ctx, "k"); !ok || err != nil {
			t.Fatalf("live take %d after the low ones: %t %v; want the reserve of 5", i+1, ok, err)
		}
	}
	if ok, _, _ := l.TryTake(ctx, "k"); ok {
		t.Fatal("a sixth live take: the bucket should be empty")
	}
	// A minute alone: the low takes get the whole refill of 90, less the reserve.
	clk.Add(time.Minute)
	n := 0
	for i := 0; i < 600; i++ {
		clk.Add(100 * time.Millisecond)
		if ok, _, err := l.tryTake(ctx, "k", true); err != nil {
			t.Fatal(err)
		} else if ok {
			n++
		}
	}
	if n < 90 || n > 96 {
		t.Fatalf("low takes over 60 s after a refill: %d; want the refill (90) plus what the full bucket held above its reserve", n)
	}
}
