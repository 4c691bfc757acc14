package system

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/db"
	"tiersync/internal/db/dbtest"
	"tiersync/internal/testfactory"
)

// TestDatabaseAway: mid-drain the database refuses tiersync (connections dropped and
// refused, as during a restart or failover). /readyz answers 503 meanwhile; when it is back
// the replica reconnects, its LISTEN session too, and finishes the drain.
func TestDatabaseAway(t *testing.T) {
	t.Parallel()
	const rows = 2000
	dbURL := dbtest.NewURL(t)
	u, _ := url.Parse(dbURL)
	name := u.Path[1:]
	admin := *u
	admin.Path = "/postgres"
	ctx := context.Background()
	adminConn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		t.Fatal(err)
	}
	defer adminConn.Close(ctx)
	defer adminConn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH ALLOW_CONNECTIONS true") //nolint:errcheck

	pool, err := db.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	seed := func(n int) {
		t.Helper()
		client := testfactory.Client(t, pool, testfactory.ClientOpts{Name: "N"})
		tier := testfactory.Tier(t, pool, client, testfactory.TierOpts{Name: "Gold", C7ClubID: "club-gold", C7DeliveryMethod: "Pickup"})
		members := make([]testfactory.CustomerOpts, n)
		for i := range members {
			members[i] = testfactory.CustomerOpts{FirstName: "M", LastName: "N"}
		}
		customers := testfactory.CustomersWith(t, pool, client, members)
		queued := make([]testfactory.QueueRowOpts, n)
		for i, c := range customers {
			queued[i] = testfactory.QueueRowOpts{CustomerID: c, TierID: tier}
		}
		testfactory.QueueRows(t, pool, queued)
	}
	seed(rows)
	fake := fakeCRM(t)
	listen := freeAddr(t)
	r := startReplica(t, []string{
		"DATABASE_URL=" + dbURL, "TIERSYNC_API_TOKEN=system-test-token-0123456789",
		"TIERSYNC_SECRET_KEY=" + "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU=",
		"COMMERCE7_API_URL=" + fake + "/v1", "COMMERCE7_APP_ID=tiersync-demo", "COMMERCE7_KEY=demo-secret",
		"WORKERS=4", "POLL_INTERVAL=200ms", "RETRY_BACKOFF_BASE=200ms", "LISTEN_ADDR=" + listen, "LOG_LEVEL=warn",
		"SCHEDULE_EXPIRE=off", "SCHEDULE_SYNC=off",
	})
	t.Cleanup(func() {
		if t.Failed() {
			_ = r.cmd.Process.Signal(syscall.SIGQUIT) // the goroutines' stacks, for the log
			_ = r.cmd.Wait()
			out := r.log.String()
			// In this checkout's artifacts/ (ignored by git, kept by CI), not a shared
			// temporary path another checkout's run would overwrite.
			logFile, _ := filepath.Abs(filepath.Join("..", "..", "artifacts", "tiersync-dbaway.log"))
			_ = os.MkdirAll(filepath.Dir(logFile), 0o755)
			os.WriteFile(logFile, []byte(out), 0o644) //nolint:errcheck
			if len(out) > 4000 {
				out = out[len(out)-4000:]
			}
			t.Logf("replica log (tail; all in %s):\n%s", logFile, out)
		}
	})
	ready := func() int {
		resp, err := http.Get("http://" + listen + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor(t, 30*time.Second, "ready", func() bool { return ready() == 200 })
	done := func() int { return count(t, pool, `SELECT count(*) FROM crm_sync_queue WHERE status = 'completed'`) }
	waitFor(t, time.Minute, "a fifth drained", func() bool { return done() >= rows/5 })

	// The database goes away.
	pool.Close()
	if _, err := adminConn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH ALLOW_CONNECTIONS false"); err != nil {
		t.Fatal(err)
	}
	if _, err := adminConn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "/readyz 503 while the database is away", func() bool { return ready() == 503 })
	if _, err := adminConn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH ALLOW_CONNECTIONS true"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "/readyz 200 again", func() bool { return ready() == 200 })

	pool, err = db.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// The listener is back: a session of the replica sits in LISTEN again.
	waitFor(t, 30*time.Second, "LISTEN renewed", func() bool {
		return count(t, pool, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'LISTEN %'`, name) == 1
	})
	waitFor(t, 2*time.Minute, "the drain finished", func() bool { return done() == rows })
	if failed := count(t, pool, `SELECT count(*) FROM crm_sync_queue WHERE status <> 'completed'`); failed != 0 {
		t.Fatalf("%d rows not completed", failed)
	}
}
