package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/testfactory"
)

// TestPerCustomerOrder: 8 workers over interleaved customers; a customer's rows never run
// at the same time and always in id order.
func TestPerCustomerOrder(t *testing.T) {
	t.Parallel()
	const customers, perCustomer = 20, 15
	w := newWorld(t, customers)
	ids := w.enqueue(t, customers*perCustomer) // round-robin: customer i%20
	var (
		mu      sync.Mutex
		running = map[string]bool{}
		order   = map[string][]int64{}
		overlap []string
		done    = make(chan struct{})
		handled int
	)
	q := newQueue(w, func(ctx context.Context, j Job) error {
		mu.Lock()
		if running[j.OrderKey] {
			overlap = append(overlap, j.OrderKey)
		}
		running[j.OrderKey] = true
		order[j.OrderKey] = append(order[j.OrderKey], j.ID)
		mu.Unlock()
		// Give other workers the chance to take this customer's next row meanwhile.
		for range 3 {
			if _, err := w.pool.Exec(ctx, `SELECT 1`); err != nil {
				return err
			}
		}
		mu.Lock()
		running[j.OrderKey] = false
		handled++
		if handled == len(ids) {
			close(done)
		}
		mu.Unlock()
		return nil
	}, Config{Workers: 8, PollInterval: 10 * time.Millisecond})
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("handled %d of %d", handled, len(ids))
	}
	if err := q.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(overlap) > 0 {
		t.Fatalf("customers with two rows running at once: %v", overlap)
	}
	for c, got := range order {
		for i := 1; i < len(got); i++ {
			if got[i] < got[i-1] {
				t.Fatalf("customer %s ran out of order: %v", c, got)
			}
		}
	}
}

// TestBackoffHoldsBackLaterRows: a row in backoff holds back its customer's later rows;
// failed and cancelled rows do not.
func TestBackoffHoldsBackLaterRows(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1)
	clk := newClock()
	ctx := context.Background()
	fail := map[int64]error{}
	q := newQueue(w, func(_ context.Context, j Job) error { return fail[j.ID] }, Config{Now: clk.Now})
	ids := w.enqueue(t, 3) // one customer
	fail[ids[0]] = errors.New("503")
	if res, _ := q.RunDue(ctx, 10); res.Processed != 1 {
		t.Fatalf("first claim ran %d rows, want only the customer's first", res.Processed)
	}
	if res, _ := q.RunDue(ctx, 10); res.Processed != 0 {
		t.Fatal("a later row ran while the first is in backoff")
	}
	fail[ids[0]] = Permanent(errors.New("422"))
	clk.Add(2 * time.Minute)
	if res, _ := q.RunDue(ctx, 10); res.Processed != 1 || w.row(t, ids[0]).Status != StatusFailed {
		t.Fatalf("first row: %+v", w.row(t, ids[0]))
	}
	// Failed now: it no longer holds back the others.
	if _, err := w.pool.Exec(ctx, `UPDATE crm_sync_queue SET status = 'cancelled' WHERE id = $1`, ids[1]); err != nil {
		t.Fatal(err)
	}
	if res, _ := q.RunDue(ctx, 10); res.Succeeded != 1 || w.row(t, ids[2]).Status != StatusCompleted {
		t.Fatalf("third row after a failed and a cancelled one: %+v", w.row(t, ids[2]))
	}
}

// TestFairness: client A has a backlog of 100 000 rows; client B's new row is claimed in
// the first claim after it is enqueued, and a high-priority row of A outranks both.
func TestFairness(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1000)
	ctx := context.Background()
	if n := testfactory.QueueBacklog(t, w.pool, w.customers, w.tier, ActionCancel, PriorityLow, 100); n != 100_000 {
		t.Fatalf("backlog of %d rows, want 100 000", n)
	}
	clientB, tierB, customerB := w.otherClient(t)
	if _, err := w.pool.Exec(ctx, `ANALYZE crm_sync_queue`); err != nil {
		t.Fatal(err)
	}
	// Same (low) priority as A's backlog: only the round-robin can put it in the first claim.
	idsB, err := Enqueue(ctx, w.pool, NewJob{ClientID: clientB, CustomerID: customerB, ActionType: ActionCancel, TierID: tierB, Priority: PriorityLow})
	if err != nil {
		t.Fatal(err)
	}
	q := newQueue(w, nil, Config{})
	jobs, err := q.claimer.due(ctx, 16)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 16 {
		t.Fatalf("claimed %d, want 16", len(jobs))
	}
	found := false
	for _, j := range jobs {
		found = found || j.ID == idsB[0]
	}
	if !found {
		t.Fatalf("client B's row %d not in the first claim after A's 100 000-row backlog", idsB[0])
	}

	// Priority first: a new high-priority row of A (a fresh customer, so nothing holds it
	// back) comes before everything else.
	customerA2 := testfactory.Customer(t, w.pool, w.client, testfactory.CustomerOpts{})
	top, err := Enqueue(ctx, w.pool, NewJob{ClientID: w.client, CustomerID: customerA2, ActionType: ActionAdd, TierID: w.tier, Priority: PriorityHigh})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err = q.claimer.due(ctx, 1)
	if err != nil || len(jobs) != 1 || jobs[0].ID != top[0] {
		t.Fatalf("claim of 1: %+v %v, want the high-priority row %d", jobs, err, top[0])
	}
}

// TestLimiterSharedBucket: two limiter users (as two replicas) in parallel never take more
// than the bucket holds; time refills it.
func TestLimiterSharedBucket(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1)
	ctx := context.Background()
	testfactory.SetRateLimit(t, w.pool, w.client, 600) // 10 per second, burst 10
	clk := newClock()
	a := newQueue(w, nil, Config{Now: clk.Now}).Limiter()
	b := newQueue(w, nil, Config{Now: clk.Now}).Limiter()
	grants := func() int {
		var mu sync.Mutex
		var wg sync.WaitGroup
		n := 0
		for _, l := range []*Limiter{a, b, a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10 {
					ok, _, err := l.TryTake(ctx, w.client)
					if err != nil {
						t.Error(err)
						return
					}
					if ok {
						mu.Lock()
						n++
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		return n
	}
	if n := grants(); n != 10 {
		t.Fatalf("40 tries on a full bucket of 10 granted %d", n)
	}
	ok, wait, err := a.TryTake(ctx, w.client)
	// The bucket refills the rest of the minute's budget: (600 − 10) / 60 a second, one
	// token every ~102 ms.
	if err != nil || ok || wait <= 0 || wait > 110*time.Millisecond {
		t.Fatalf("empty bucket: granted %v, wait %v, %v (want a wait of about 102 ms)", ok, wait, err)
	}
	clk.Add(510 * time.Millisecond)
	if n := grants(); n != 5 {
		t.Fatalf("after 0.51 s at 590/60 a second: %d grants, want 5", n)
	}
}

// TestThrottlePausesOneClient: a throttled row goes back with its attempt given back, its
// client pauses for the wait, and another client's rows keep flowing.
func TestThrottlePausesOneClient(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 2)
	ctx := context.Background()
	clk := newClock()
	clientB, tierB, customerB := w.otherClient(t)
	q := newQueue(w, func(_ context.Context, j Job) error {
		if j.RateKey == w.client {
			return Throttled(30*time.Second, errors.New("429 Too Many Requests"))
		}
		return nil
	}, Config{Now: clk.Now})
	a := w.enqueue(t, 2)
	if res, _ := q.RunDue(ctx, 1); res.Processed != 1 {
		t.Fatalf("%+v", res)
	}
	r := w.row(t, a[0])
	if r.Status != StatusPending || r.Attempts != 0 || !r.NextRetryAt.Equal(clk.Now().Add(30*time.Second)) {
		t.Fatalf("throttled row %+v, want pending, 0 attempts, due in 30 s", r)
	}
	if got := w.outcomes(t, a[0]); fmt.Sprint(got) != "[throttled]" {
		t.Fatalf("history %v", got)
	}
	b, err := Enqueue(ctx, w.pool, NewJob{ClientID: clientB, CustomerID: customerB, ActionType: ActionAdd, TierID: tierB})
	if err != nil {
		t.Fatal(err)
	}
	// A is paused: its other customer's row waits; B's row runs.
	res, _ := q.RunDue(ctx, 10)
	if res.Processed != 1 || w.row(t, b[0]).Status != StatusCompleted || w.row(t, a[1]).Status != StatusPending {
		t.Fatalf("while A is paused: %+v, B %+v, A's other row %+v", res, w.row(t, b[0]), w.row(t, a[1]))
	}
	if ok, wait, _ := q.Limiter().TryTake(ctx, w.client); ok || wait < 29*time.Second {
		t.Fatalf("A's bucket during the pause: granted %v, wait %v", ok, wait)
	}
	clk.Add(31 * time.Second)
	if ok, _, err := q.Limiter().TryTake(ctx, w.client); !ok || err != nil {
		t.Fatalf("A still paused after the wait: %v", err)
	}
}

func TestCoalescing(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 2)
	ctx := context.Background()
	var enrollments [2]string
	for i := range enrollments {
		enrollments[i] = testfactory.Enrollment(t, w.pool, testfactory.EnrollmentOpts{CustomerID: w.customers[i], TierID: w.tier})
	}
	job := func(i int, action string) NewJob {
		return NewJob{ClientID: w.client, CustomerID: w.customers[i], EnrollmentID: &enrollments[i], ActionType: action, TierID: w.tier}
	}
	enqueue := func(jobs ...NewJob) []int64 {
		var ids []int64
		err := pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
			var err error
			ids, err = Enqueue(ctx, tx, jobs...)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}

	t.Run("pending add and its cancel cancel each other", func(t *testing.T) {
		add := enqueue(job(0, ActionAdd))[0]
		cancel := enqueue(job(0, ActionCancel))[0]
		ra, rc := w.row(t, add), w.row(t, cancel)
		if ra.Status != StatusCancelled || *ra.ErrorMessage != fmt.Sprintf("superseded by #%d", cancel) {
			t.Fatalf("add %+v", ra)
		}
		if rc.Status != StatusCancelled || *rc.ErrorMessage != fmt.Sprintf("superseded by #%d", add) {
			t.Fatalf("cancel %+v", rc)
		}
	})
	t.Run("no coalescing once the add was attempted", func(t *testing.T) {
		q := newQueue(w, func(context.Context, Job) error { return errors.New("503") }, Config{})
		add := enqueue(job(1, ActionAdd))[0]
		if res, _ := q.RunDue(ctx, 10); res.Processed != 1 {
			t.Fatalf("%+v", res)
		}
		cancel := enqueue(job(1, ActionCancel))[0]
		if ra, rc := w.row(t, add), w.row(t, cancel); ra.Status != StatusPending || rc.Status != StatusPending {
			t.Fatalf("attempted add %+v / cancel %+v: want both pending", ra, rc)
		}
	})
}

// otherClient adds a second client with a tier and one customer.
func (w *world) otherClient(t *testing.T) (client, tier, customer string) {
	t.Helper()
	client = testfactory.Client(t, w.pool, testfactory.ClientOpts{})
	tier = testfactory.Tier(t, w.pool, client, testfactory.TierOpts{})
	customer = testfactory.Customer(t, w.pool, client, testfactory.CustomerOpts{})
	return client, tier, customer
}
