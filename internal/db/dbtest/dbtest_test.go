package dbtest

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/testfactory"
)

func TestMain(m *testing.M) { Main(m) }

func TestFreshIsolatedMigratedDatabases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := New(t), New(t)
	testfactory.Client(t, a, testfactory.ClientOpts{})
	var inA, inB int
	if err := a.QueryRow(ctx, `SELECT count(*) FROM clients`).Scan(&inA); err != nil {
		t.Fatal(err)
	}
	if err := b.QueryRow(ctx, `SELECT count(*) FROM clients`).Scan(&inB); err != nil {
		t.Fatal(err)
	}
	if inA != 1 || inB != 0 {
		t.Fatalf("clients: %d in a, %d in b; want 1 and 0", inA, inB)
	}
	var queue *string
	if err := b.QueryRow(ctx, `SELECT to_regclass('crm_sync_queue')::text`).Scan(&queue); err != nil || queue == nil {
		t.Fatalf("crm_sync_queue missing in a fresh database (%v)", err)
	}
}

// TestDatabaseDroppedAfterTest is not parallel: it waits for the background drops
// (server.drops), which a test running beside it would be adding to.
func TestDatabaseDroppedAfterTest(t *testing.T) {
	var name string
	t.Run("user", func(t *testing.T) {
		u, err := url.Parse(NewURL(t))
		if err != nil {
			t.Fatal(err)
		}
		name = strings.TrimPrefix(u.Path, "/")
	})
	server.drops.Wait() // drops run in the background
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, server.adminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if name == "" || exists {
		t.Fatalf("database %q still exists after its test ended", name)
	}
}

// BenchmarkClone measures what a test waits for its database: a clone of the template.
// (The drop, which forces a checkpoint, runs in the background.)
func BenchmarkClone(b *testing.B) {
	server.once.Do(setup)
	if server.err != nil {
		b.Fatal(server.err)
	}
	ctx := context.Background()
	for b.Loop() {
		name := "tiersync_bench_" + randomHex(6)
		if err := clone(ctx, name); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := exec(ctx, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
