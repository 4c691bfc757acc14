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
	for _, clients := range []int{1, 7, 200} {
		t.Run(fmt.Sprint(clients, " clients"), func(t *testing.T) {
			pool := dbtest.New(t)
			res, err := Queue(context.Background(), pool, 2000, clients, 8)
			if err != nil {
				t.Fatal(err)
			}
			if res.Bench != "queue" || res.Jobs != 2000 || res.Clients != clients || res.Workers != 8 || res.Seconds <= 0 || res.JobsPerSec <= 0 {
				t.Fatalf("result %+v", res)
			}
			var fewest, most int
			if err := pool.QueryRow(context.Background(), `SELECT min(n), max(n) FROM (SELECT count(*) AS n FROM crm_sync_queue
				GROUP BY client_id) c`).Scan(&fewest, &most); err != nil {
				t.Fatal(err)
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
	if _, err := Queue(context.Background(), dbtest.New(t), 10, 11, 1); err == nil {
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
