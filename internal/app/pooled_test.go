package app

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/db"
	"tiersync/internal/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestCheckPooledSettings: behind a pooler tiersync sends no startup parameter, so serve
// warns while the database's own statement_timeout and jit differ from what it would have
// set, and is quiet once the README's ALTER DATABASE lines ran.
func TestCheckPooledSettings(t *testing.T) {
	ctx := context.Background()
	url := dbtest.NewURL(t)
	check := func() string {
		t.Helper()
		pool, err := db.OpenWith(ctx, url, db.Options{Pooled: true})
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		var out bytes.Buffer
		if err := checkPooledSettings(ctx, pool, slog.New(slog.NewTextHandler(&out, nil)), 30*time.Second); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	got := check()
	if !strings.Contains(got, "statement_timeout") || !strings.Contains(got, "jit") {
		t.Fatalf("the server's defaults (no timeout, jit on) gave no warning:\n%s", got)
	}
	pool, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	var name string
	if err := pool.QueryRow(ctx, `SELECT current_database()`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{"SET statement_timeout = '30s'", "SET jit = off"} {
		if _, err := pool.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" "+stmt); err != nil {
			t.Fatal(err)
		}
	}
	pool.Close()
	if got := check(); got != "" {
		t.Fatalf("warned after the database was set as the README says:\n%s", got)
	}
}
