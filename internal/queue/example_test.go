package queue_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/db"
	"tiersync/internal/db/dbtest"
	"tiersync/internal/queue"
	"tiersync/internal/testfactory"
)

// exampleT lets an Example use the package's test database helper (dbtest.New), which
// wants a testing.TB: Examples have none. Cleanups run when the Example calls done.
type exampleT struct {
	testing.TB // nil: only the methods below are called
	cleanups   []func()
}

func (e *exampleT) Helper()                   {}
func (e *exampleT) Cleanup(f func())          { e.cleanups = append(e.cleanups, f) }
func (e *exampleT) Fatal(args ...any)         { panic(fmt.Sprint(args...)) }
func (e *exampleT) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
func (e *exampleT) done() {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
}

// exampleDB is a fresh database with one winery, its tier and one customer, and the row
// an enrollment of that customer would enqueue.
func exampleDB() (pool *pgxpool.Pool, job queue.NewJob, done func()) {
	t := &exampleT{}
	pool = dbtest.New(t)
	job.ClientID = testfactory.Client(t, pool, testfactory.ClientOpts{Name: "Napa Cellars", Tenant: "napa", RateLimitPerMinute: 100})
	job.TierID = testfactory.Tier(t, pool, job.ClientID, testfactory.TierOpts{Name: "Gold", C7ClubID: "club-gold"})
	job.CustomerID = testfactory.Customer(t, pool, job.ClientID, testfactory.CustomerOpts{Email: "ada@example.com"})
	job.ActionType, job.Priority = queue.ActionAdd, queue.PriorityHigh
	// The engine's keys: requests draw from the client's bucket, and a customer's rows
	// apply one at a time.
	job.RateKey, job.OrderKey = job.ClientID, job.CustomerID
	return pool, job, t.done
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Enqueue inside the transaction that makes the change: the row commits with it, or not
// at all, and the workers are woken at commit.
func ExampleEnqueue() {
	pool, job, done := exampleDB()
	defer done()
	ctx := context.Background()

	var id int64
	err := db.InTx(ctx, pool, func(tx pgx.Tx) error {
		// … the enrollment is written here, in tx …
		ids, err := queue.Enqueue(ctx, tx, job)
		if err != nil {
			return err
		}
		id = ids[0]
		return nil
	})
	if err != nil {
		panic(err)
	}
	engine := queue.New(pool, nil, queue.Config{Logger: quiet()})
	item, _, err := engine.Get(ctx, id)
	if err != nil {
		panic(err)
	}
	fmt.Println(item.ActionType, item.Status, item.Attempts)
	// Output: add_membership pending 0
}

// RunDue claims due rows and runs them in the caller (what POST /api/cron/sync does), so
// an outside scheduler can drive the queue; a failed attempt waits for its backoff.
func ExampleQueue_RunDue() {
	pool, job, done := exampleDB()
	defer done()
	ctx := context.Background()
	if _, err := queue.Enqueue(ctx, pool, job); err != nil {
		panic(err)
	}
	handler := func(ctx context.Context, j queue.Job) error {
		// A handler gets the engine's fields; what the row is about it reads by j.ID.
		fmt.Println("syncing", j.ActionType, "attempt", j.Attempt)
		return nil
	}
	engine := queue.New(pool, handler, queue.Config{Logger: quiet()})
	res, err := engine.RunDue(ctx, 50)
	if err != nil {
		panic(err)
	}
	fmt.Printf("processed %d, succeeded %d\n", res.Processed, res.Succeeded)
	// Output:
	// syncing add_membership attempt 1
	// processed 1, succeeded 1
}

// Start runs the workers; Wait returns once a row is done, whichever replica ran it (the
// enrollment API waits like this, briefly, to answer with the CRM's membership id).
func ExampleQueue_Wait() {
	pool, job, done := exampleDB()
	defer done()
	ctx := context.Background()
	engine := queue.New(pool, func(context.Context, queue.Job) error { return nil },
		queue.Config{Workers: 2, Logger: quiet()})
	if err := engine.Start(ctx); err != nil {
		panic(err)
	}
	defer engine.Stop(ctx)

	ids, err := queue.Enqueue(ctx, pool, job)
	if err != nil {
		panic(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	status, err := engine.Wait(wctx, ids[0])
	if err != nil {
		panic(err)
	}
	fmt.Println(status)
	// Output: completed
}

// A handler's error decides the row's fate: nil completes it, Permanent fails it at once,
// Throttled puts it back without spending its attempt, anything else is retried later.
func ExamplePermanent() {
	pool, job, done := exampleDB()
	defer done()
	ctx := context.Background()
	ids, err := queue.Enqueue(ctx, pool, job)
	if err != nil {
		panic(err)
	}
	engine := queue.New(pool, func(context.Context, queue.Job) error {
		return queue.Permanent(fmt.Errorf("HTTP 422: club not found"))
	}, queue.Config{Logger: quiet()})
	status, err := engine.RunOne(ctx, ids[0])
	if err != nil {
		panic(err)
	}
	item, history, err := engine.Get(ctx, ids[0])
	if err != nil {
		panic(err)
	}
	fmt.Println(status, *item.ErrorMessage)
	fmt.Println(len(history), history[0].Outcome)
	// Output:
	// failed HTTP 422: club not found
	// 1 failed
}

// SetRate gives a rate key its budget; the CRM clients take a token per request, and the
// claim skips keys whose bucket is empty.
func ExampleSetRate() {
	pool, _, done := exampleDB()
	defer done()
	ctx := context.Background()
	// 120 a minute: a burst of 10 (so an idle tenant's few calls go at once), then the rest
	// of the minute's budget, (120 − 10) / 60 a second.
	if err := queue.SetRate(ctx, pool, "tenant-a", 120); err != nil {
		panic(err)
	}
	// A clock that stands still, so that no token refills between the takes below.
	still := time.Now()
	limiter := queue.NewLimiter(pool, func() time.Time { return still })
	granted := 0
	for range 12 {
		ok, _, err := limiter.TryTake(ctx, "tenant-a")
		if err != nil {
			panic(err)
		}
		if ok {
			granted++
		}
	}
	_, wait, _ := limiter.TryTake(ctx, "tenant-a")
	fmt.Println(granted, "of 12 granted; the next token in", wait.Round(10*time.Millisecond))
	// Output:
	// 10 of 12 granted; the next token in 550ms
}
