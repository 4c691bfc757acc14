// Package dbtest gives every test a fresh, fully migrated PostgreSQL database in
// milliseconds: the migrations run once per server into a template database, and each
// test clones it (CREATE DATABASE … TEMPLATE). The server is DATABASE_URL's when set,
// otherwise the private cluster all test processes of this user share (internal/devdb).
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/db"
	"tiersync/internal/devdb"
)

// server is this test process's database server, found or started on first use.
// Package-level on purpose: one server per test process, shared by all its tests, and
// released by Main when they are done. Test-only code.
var server struct {
	once     sync.Once
	adminURL string // a URL on the server for CREATE/DROP DATABASE
	template string
	cluster  *devdb.Cluster
	err      error
	// drops are the DROP DATABASEs still running: a drop forces a checkpoint (~0.25 s), so
	// it runs behind the tests and Main waits for them.
	drops sync.WaitGroup
}

// Main runs the tests of a package (call it from TestMain) and then releases this
// process's use of the shared cluster.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main without the exit, for a TestMain that has its own cleanup to do after the
// tests (a temporary directory of built binaries): it returns the exit code.
func Run(m *testing.M) int {
	code := m.Run()
	server.drops.Wait()
	if server.cluster != nil {
		if err := server.cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "dbtest:", err)
		}
	}
	return code
}

// New returns a pool on a fresh migrated database, dropped when the test ends.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := db.Open(context.Background(), NewURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close) // runs before the drop: cleanups run last-in first-out
	return pool
}

// NewURL returns the URL of a fresh migrated database, dropped when the test ends.
func NewURL(t testing.TB) string {
	t.Helper()
	server.once.Do(setup)
	if server.err != nil {
		t.Fatalf("dbtest: %v", server.err)
	}
	ctx := context.Background()
	name := "tiersync_t_" + randomHex(6)
	if err := clone(ctx, name); err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(func() {
		server.drops.Add(1)
		go func() {
			defer server.drops.Done()
			if err := exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
				fmt.Fprintf(os.Stderr, "dbtest: drop %s: %v\n", name, err)
			}
		}()
	})
	u, err := withDatabase(server.adminURL, name)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	return u
}

func setup() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	server.adminURL = os.Getenv("DATABASE_URL")
	if server.adminURL == "" {
		c, err := devdb.Start(ctx, devdb.Options{Shared: true})
		if err != nil {
			server.err = err
			return
		}
		server.cluster = c
		server.adminURL = c.URL("postgres")
	}
	server.template = "tiersync_tpl_" + db.MigrationsFingerprint()
	server.err = ensureTemplate(ctx)
}

// ensureTemplate builds the migrated template once per server. Processes race for an
// advisory lock; the winner builds it under a temporary name and renames it when complete,
// so a crash never leaves a half-migrated template behind.
func ensureTemplate(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, server.adminURL)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", redact(server.adminURL), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, db.LockTestTemplate); err != nil {
		return fmt.Errorf("template lock: %w", err)
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, db.LockTestTemplate) //nolint:errcheck
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, server.template).Scan(&exists); err != nil {
		return fmt.Errorf("look for template: %w", err)
	}
	if exists {
		return nil
	}
	building := server.template + "_building"
	id := func(s string) string { return pgx.Identifier{s}.Sanitize() }
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+id(building)+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop half-built template: %w", err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+id(building)); err != nil {
		return fmt.Errorf("create template: %w", err)
	}
	u, err := withDatabase(server.adminURL, building)
	if err != nil {
		return err
	}
	if err := db.MigrateUp(ctx, u); err != nil {
		return fmt.Errorf("migrate template: %w", err)
	}
	for _, sql := range []string{
		"ALTER DATABASE " + id(building) + " RENAME TO " + id(server.template),
		"ALTER DATABASE " + id(server.template) + " WITH IS_TEMPLATE true",
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("finish template: %w", err)
		}
	}
	return nil
}

// clone creates name from the template. FILE_COPY copies the template's files whole:
// about 130 ms here against 200 ms for the default WAL_LOG strategy (and 320 ms to create
// and migrate a database). CREATE DATABASE fails while any session is connected to the
// template; that only happens for an instant, so it is retried.
func clone(ctx context.Context, name string) error {
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize() + " TEMPLATE " + pgx.Identifier{server.template}.Sanitize() +
		" STRATEGY FILE_COPY"
	delay := 10 * time.Millisecond
	for try := 0; ; try++ {
		err := exec(ctx, sql)
		var pgErr *pgconn.PgError
		if err == nil || try == 20 || !errors.As(err, &pgErr) || pgErr.Code != "55006" {
			if err != nil {
				return fmt.Errorf("clone template: %w", err)
			}
			return nil
		}
		time.Sleep(delay) // backoff before retrying a busy template, not test synchronisation
		delay = min(2*delay, 500*time.Millisecond)
	}
}

// exec runs one statement on a short-lived admin connection (CREATE DATABASE cannot run
// in a transaction, and a pooled admin connection would linger between tests).
func exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, server.adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func withDatabase(serverURL, name string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", fmt.Errorf("DATABASE_URL must be a postgres:// URL: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(DATABASE_URL)"
	}
	return u.Redacted()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
