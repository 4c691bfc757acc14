package queue

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/db"
)

// TestLanesLoseNoRow: a lane is put to sleep only when no writer's rows can be missing.
// Both orders of a claim's retraction and a writer's uncommitted enqueue are forced, and
// in each the writer's row is claimed once it commits.
func TestLanesLoseNoRow(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// retractFirst: the retraction holds the lane (uncommitted) when the writer
		// enqueues; else the writer holds it (uncommitted) when the claim retracts.
		retractFirst bool
	}{
		{"writer first: the retraction skips the lane", false},
		{"retraction first: the writer waits and wakes the lane", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, 2)
			ctx := context.Background()
			q := newQueue(w, nil, Config{})
			// One row, claimed: the lane is left with nothing to claim.
			first := w.enqueue(t, 1)
			if jobs, err := q.claimer.due(ctx, 10); err != nil || len(jobs) != 1 || jobs[0].ID != first[0] {
				t.Fatalf("first claim: %+v, %v", jobs, err)
			}
			job := NewJob{ClientID: w.client, CustomerID: w.customers[1], ActionType: ActionAdd, TierID: w.tier}
			var id int64
			if c.retractFirst {
				// The retraction, uncommitted, holds the lane and has put it to sleep.
				retract, err := w.pool.Begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer retract.Rollback(ctx)
				var slept int
				if err := retract.QueryRow(ctx, `SELECT crm_queue_lanes_retract(ARRAY[$1::text], ARRAY[0::smallint], now())`,
					w.client).Scan(&slept); err != nil || slept != 1 {
					t.Fatalf("retract: %d lanes, %v", slept, err)
				}
				// The writer's enqueue waits for the lane; the retraction commits.
				done := make(chan error, 1)
				go func() {
					err := db.InTx(ctx, w.pool, func(tx pgx.Tx) error {
						ids, err := Enqueue(ctx, tx, job)
						if err == nil {
							id = ids[0]
						}
						return err
					})
					done <- err
				}()
				err = waitForLockWait(t, w, done)
				if err := retract.Commit(ctx); err != nil {
					t.Fatal(err)
				}
				if err == nil {
					err = <-done
				}
				if err != nil && err != errNoWait {
					t.Fatal(err)
				}
			} else {
				// The writer, uncommitted, holds the lane; a claim finds it empty (it cannot see
				// the row) and its retraction must skip the lane.
				writer, err := w.pool.Begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer writer.Rollback(ctx)
				ids, err := Enqueue(ctx, writer, job)
				if err != nil {
					t.Fatal(err)
				}
				id = ids[0]
				if jobs, err := q.claimer.due(ctx, 10); err != nil || len(jobs) != 0 {
					t.Fatalf("claim during the writer's transaction: %+v, %v", jobs, err)
				}
				if err := writer.Commit(ctx); err != nil {
					t.Fatal(err)
				}
			}
			jobs, err := q.claimer.due(ctx, 10)
			if err != nil || len(jobs) != 1 || jobs[0].ID != id {
				t.Fatalf("claim after the writer committed: %+v, %v; want row %d", jobs, err, id)
			}
		})
	}
}

// errNoWait: the writer finished without waiting for the lane (the final claim then says
// whether its row was lost).
var errNoWait = errors.New("the writer did not wait")

// waitForLockWait returns nil once some session of this test's database waits for a lock,
// or the writer's result if it finishes first (errNoWait if it succeeded).
func waitForLockWait(t *testing.T, w *world, done <-chan error) error {
	t.Helper()
	for {
		select {
		case err := <-done:
			if err == nil {
				return errNoWait
			}
			return err
		default:
		}
		var waiting bool
		if err := w.pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock')`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			return nil
		}
	}
}
