package queue

import (
	"context"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/db/dbtest"
)

// sqlFiles reads the engine's SQL files.
func sqlFiles(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := fs.WalkDir(os.DirFS("sql"), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(os.DirFS("sql"), path)
		files[path] = string(b)
		return err
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("read sql/: %d files, %v", len(files), err)
	}
	return files
}

// from returns the text of sql from the line starting with marker to the end, or to the
// next line starting with until.
func from(t *testing.T, sql, marker, until string) string {
	t.Helper()
	i := strings.Index(sql, marker)
	if i < 0 {
		t.Fatalf("no %q in\n%s", marker, sql)
	}
	rest := sql[i:]
	if until != "" {
		if j := strings.Index(rest[len(marker):], until); j >= 0 {
			rest = rest[:len(marker)+j]
		}
	}
	return rest
}

// TestStatementsAgree: statements that must do the same thing in two places (SQL has no
// include, and splicing SQL in Go is what these files replaced) are kept identical.
func TestStatementsAgree(t *testing.T) {
	t.Parallel()
	files := sqlFiles(t)
	cases := []struct {
		name        string
		a, b        string
		start, stop string // the shared part: from start to stop ("" : the end)
	}{
		{"claim set", "claim_due.sql", "claim_one.sql", "UPDATE crm_sync_queue q SET", "q.created_at, q.status"},
		{"retry set", "retry.sql", "retry_failed.sql", "UPDATE crm_sync_queue q SET", "WHERE"},
		{"list filter", "list.sql", "retry_failed.sql", "-- filter:", "\nORDER BY"},
		{"item columns (retry, list)", "retry.sql", "list.sql", "q.id, q.client_id", "q.completed_at"},
		{"item columns (cancel, get)", "cancel.sql", "get.sql", "q.id, q.client_id", "q.completed_at"},
		{"item columns (retry, get)", "retry.sql", "get.sql", "q.id, q.client_id", "q.completed_at"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b := from(t, files[c.a], c.start, c.stop), from(t, files[c.b], c.start, c.stop)
			// Compared word by word: claim_due.sql indents its copy inside a CTE.
			if strings.Join(strings.Fields(a), " ") != strings.Join(strings.Fields(b), " ") {
				t.Errorf("%s and %s differ in their shared part:\n%s\n---\n%s", c.a, c.b, a, b)
			}
		})
	}
}

// TestEngineReadsOnlyItsTables: the engine's SQL names no table of the schema but its
// own; what it needs from the domain is written on its rows (rate_key, order_key) and
// its buckets (per_minute).
func TestEngineReadsOnlyItsTables(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	rows, err := pool.Query(context.Background(), `SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 5 {
		t.Fatalf("tables %v, %v", tables, err)
	}
	own := map[string]bool{"crm_sync_queue": true, "crm_sync_attempts": true, "crm_rate_buckets": true, "crm_queue_lanes": true}
	word := regexp.MustCompile(`[a-z_][a-z0-9_]*`)
	for name, sql := range sqlFiles(t) {
		var code []string
		for _, line := range strings.Split(sql, "\n") {
			code = append(code, strings.SplitN(line, "--", 2)[0]) // comments may name anything
		}
		words := map[string]bool{}
		for _, w := range word.FindAllString(strings.ToLower(strings.Join(code, "\n")), -1) {
			words[w] = true
		}
		for _, table := range tables {
			if words[table] && !own[table] {
				t.Errorf("%s names table %s, which is not the engine's", name, table)
			}
		}
	}
}
