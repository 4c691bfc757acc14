package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"tiersync/internal/db"
	"tiersync/internal/db/dbtest"
	"tiersync/internal/devdb"
)

func TestMain(m *testing.M) {
	// The test binary is also the replica process of TestQueueReplicasBench.
	if url := os.Getenv("TIERSYNC_BENCH_REPLICA_URL"); url != "" {
		os.Exit(replicaMain(url))
	}
	dbtest.Main(m)
}

func replicaMain(url string) int {
	ctx := context.Background()
	pooled := os.Getenv("TIERSYNC_BENCH_REPLICA_POOLED") != ""
	pool, err := db.OpenWith(ctx, url, db.Options{MaxConns: 6, Pooled: pooled})
	if err == nil {
		defer pool.Close()
		err = QueueReplica(ctx, pool, 4, os.Getenv("TIERSYNC_BENCH_REPLICA_LISTEN"), os.Stdin, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestQueueReplicasBench drains the bench's rows with three replica processes, directly
// and through PgBouncer (4 server connections for 3 × 6 client ones): every row handled
// exactly once across the processes, and the figures reported.
func TestQueueReplicasBench(t *testing.T) {
	for _, pooled := range []bool{false, true} {
		t.Run(fmt.Sprint("pooled ", pooled), func(t *testing.T) {
			ctx := context.Background()
			url := dbtest.NewURL(t)
			pool, err := db.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			env := []string{"TIERSYNC_BENCH_REPLICA_URL=" + url}
			pooler := ""
			if pooled {
				b, err := devdb.StartPgBouncer(ctx, url, devdb.BouncerOptions{PoolSize: 4})
				if err != nil {
					t.Fatal(err)
				}
				defer b.Stop() //nolint:errcheck
				env = []string{"TIERSYNC_BENCH_REPLICA_URL=" + b.URL(), "TIERSYNC_BENCH_REPLICA_POOLED=1", "TIERSYNC_BENCH_REPLICA_LISTEN=" + url}
				pooler = "pgbouncer"
			}
			start := func() *exec.Cmd {
				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), env...)
				cmd.Stderr = os.Stderr
				return cmd
			}
			res, err := QueueReplicas(ctx, pool, 3000, 7, 4, 100, 3, pooler, start)
			if err != nil {
				t.Fatal(err)
			}
			if res.Jobs != 3000 || res.Replicas != 3 || res.Pooler != pooler || res.Retained != 100 || res.JobsPerSec <= 0 || res.IdleClaimMs <= 0 {
				t.Fatalf("result %+v", res)
			}
		})
	}
}

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

// TestReconcileBench runs the reconcile bench small, against each CRM's fake: the listing
// sends exactly the pages the members need and finds nothing to repair.
func TestReconcileBench(t *testing.T) {
	for _, tc := range []struct {
		crm          string
		members, min int
	}{{"commerce7", 120, 3}, {"shopify", 250, 3}} {
		t.Run(tc.crm, func(t *testing.T) {
			res, err := Reconcile(context.Background(), dbtest.New(t), tc.crm, tc.members)
			if err != nil {
				t.Fatal(err)
			}
			if res.Requests != tc.min || res.MinRequests != tc.min || res.Differences != 0 || res.Members != tc.members ||
				res.Seconds < 0 || res.FractionOfBound <= 0 {
				t.Fatalf("%+v: want %d requests and no difference", res, tc.min)
			}
		})
	}
	if _, err := Reconcile(context.Background(), dbtest.New(t), "salesforce", 10); err == nil {
		t.Fatal("an unknown CRM: want an error")
	}
}
