package bench

import (
	"context"
	"testing"

	"tiersync/internal/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestQueueBench runs the benchmark small: it must drain every row and report sane figures.
func TestQueueBench(t *testing.T) {
	pool := dbtest.New(t)
	res, err := Queue(context.Background(), pool, 2000, 8)
	if err != nil {
		t.Fatal(err)
	}
	if res.Bench != "queue" || res.Jobs != 2000 || res.Workers != 8 || res.Seconds <= 0 || res.JobsPerSec <= 0 {
		t.Fatalf("result %+v", res)
	}
}
