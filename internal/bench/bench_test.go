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
