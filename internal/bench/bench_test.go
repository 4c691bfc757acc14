package bench

import (
	"context"
	"fmt"
	"testing"

	"tiersync/internal/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestQueueBench runs the benchmark small, on one client and spread over many: it must
// drain every row, spread them as asked, and report sane figures.
func TestQueueBench(t *testing.T) {
	for _, c := range []struct{ clients, retained int }{{1, 0}, {7, 0}, {200, 0}, {7, 3000}} {
		t.Run(fmt.Sprint(c.clients, " clients, ", c.retained, " retained"), func(t *testing.T) {
			clients := c.clients
			pool := dbtest.New(t)
			res, err := Queue(context.Background(), pool, 2000, clients, 8, c.retained)
			if err != nil {
				t.Fatal(err)
			}
			if res.Bench != "queue" || res.Jobs != 2000 || res.Clients != clients || res.Workers != 8 || res.Retained != c.retained ||
				res.Seconds <= 0 || res.JobsPerSec <= 0 {
				t.Fatalf("result %+v", res)
			}
			var fewest, most int
			var retained int
			if err := pool.QueryRow(context.Background(), `SELECT min(n), max(n), (SELECT count(*) FROM crm_sync_queue
				WHERE action_type = 'add_membership' AND status = 'completed') FROM (SELECT count(*) AS n FROM crm_sync_queue
				WHERE action_type = 'cancel_membership' GROUP BY client_id) c`).Scan(&fewest, &most, &retained); err != nil {
				t.Fatal(err)
			}
			if retained != c.retained {
				t.Fatalf("%d retained rows, want %d", retained, c.retained)
			}
			if most-fewest > 1 {
				t.Fatalf("rows per client from %d to %d: not spread evenly", fewest, most)
			}
			// The idle claims put every lane to sleep: an idle deployment walks nothing.
			var awake int
			if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM crm_queue_lanes
				WHERE due_at <> 'infinity'`).Scan(&awake); err != nil {
				t.Fatal(err)
			}
			if awake != 0 || res.IdleClaimMs <= 0 {
				t.Fatalf("after the drain %d lanes still awake, idle claim %v ms", awake, res.IdleClaimMs)
			}
		})
	}
	if _, err := Queue(context.Background(), dbtest.New(t), 10, 11, 1, 0); err == nil {
		t.Fatal("more clients than rows was accepted")
	}
}

// TestExpireBench runs the expiration benchmark small: every enrollment expires with its
// cancel row, and enrollments commit meanwhile.
func TestExpireBench(t *testing.T) {
	pool := dbtest.New(t)
	res, err := Expire(context.Background(), pool, 3000, 500)
	if err != nil {
		t.Fatal(err)
	}
	if res.Bench != "expire" || res.Enrollments != 3000 || res.BatchSize != 500 || res.Seconds <= 0 || res.PerSec <= 0 {
		t.Fatalf("result %+v", res)
	}
}
