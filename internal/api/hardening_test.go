package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/api"
	"tiersync/internal/authlimit"
	"tiersync/internal/db"
	"tiersync/internal/db/dbtest"
)

// TestWrongTokensAreLimited: an address that sends 10 wrong bearer tokens in a minute is
// answered 429 with Retry-After, even with the right token, until its window ends.
func TestWrongTokensAreLimited(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h := newHarness(t, func(o *api.Options, _ *pgxpool.Pool) {
		o.TokenLimiter = authlimit.New(authlimit.Config{Failures: 10, Window: time.Minute, Now: clock})
	})
	wrong := map[string]string{"Authorization": "Bearer not-the-token-at-all"}
	for i := range 10 {
		if status, _ := h.doWith("GET", "/api/clients", "", wrong); status != 401 {
			t.Fatalf("wrong token %d: %d, want 401", i+1, status)
		}
	}
	req, _ := http.NewRequest("GET", h.url+"/api/clients", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after 10 wrong tokens: %d (Retry-After %q), want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	mu.Lock()
	now = now.Add(61 * time.Second)
	mu.Unlock()
	if status, body := h.do("GET", "/api/clients", ""); status != 200 {
		t.Fatalf("after the window: %d %v", status, body)
	}
}

// TestQueueFiltersAreCappedAndLiteral: a filter longer than it can be is refused without
// being echoed, and % and _ in the email filter match themselves, not any text.
func TestQueueFiltersAreCappedAndLiteral(t *testing.T) {
	t.Parallel()
	w := newQueueWorld(t, "a1b@example.com", "a_b@example.com", "other@example.com")
	long := strings.Repeat("x", 255)
	for _, q := range []string{"email=" + long, "status=" + long, "client_id=" + long, "action_type=" + long,
		"cursor=" + strings.Repeat("9", 600), "limit=" + strings.Repeat("7", 600), "email=%ff%fe", "email=a%00b"} {
		status, body := w.do("GET", "/api/queue?"+q, "")
		if status != 400 {
			t.Errorf("?%.40s…: %d %v, want 400", q, status, body)
		}
		if msg, _ := body["error"].(string); len(msg) > 200 {
			t.Errorf("?%.40s…: the error echoes the value (%d bytes)", q, len(msg))
		}
	}
	emails := func(q string) []string {
		t.Helper()
		status, body := w.do("GET", "/api/queue?"+q, "")
		if status != 200 {
			t.Fatalf("?%s: %d %v", q, status, body)
		}
		var got []string
		for _, it := range body["items"].([]any) {
			for email, id := range w.ids {
				if int64(it.(map[string]any)["id"].(float64)) == id {
					got = append(got, email)
				}
			}
		}
		return got
	}
	if got := emails("email=a_b"); len(got) != 1 || got[0] != "a_b@example.com" {
		t.Errorf("email=a_b matched %v, want only a_b@example.com", got)
	}
	if got := emails("email=%25"); len(got) != 0 {
		t.Errorf("email=%% matched %v, want nothing", got)
	}
	if got := emails("email=A1B"); len(got) != 1 {
		t.Errorf("email=A1B matched %v, want a1b@example.com (case-insensitive)", got)
	}
}

// TestRequestDeadline: a request past REQUEST_TIMEOUT has its queries cancelled and is
// answered 503 with a JSON error, not 500.
func TestRequestDeadline(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *api.Options, _ *pgxpool.Pool) { o.RequestTimeout = time.Nanosecond })
	status, body := h.do("GET", "/api/clients", "")
	if status != 503 || !strings.Contains(fmt.Sprint(body["error"]), "REQUEST_TIMEOUT") {
		t.Fatalf("%d %v, want 503 naming REQUEST_TIMEOUT", status, body)
	}
}

// TestManualRunsOutliveTheRequestDeadline: a job run or a sync started by a request is not
// stopped halfway by the request's deadline: it finishes and answers with its result.
func TestManualRunsOutliveTheRequestDeadline(t *testing.T) {
	t.Parallel()
	var opts api.Options
	w := newQueueWorldWith(t, func(o *api.Options, _ *pgxpool.Pool) { opts = *o }, "ada@example.com")
	// A second server on the same engine and scheduler whose every request is past its
	// deadline at once: the token check and routing need no query; the runs' own queries
	// would all fail if they inherited the deadline.
	opts.RequestTimeout = time.Nanosecond
	srv := httptest.NewServer(api.New(opts))
	t.Cleanup(srv.Close)
	late := &harness{t: t, url: srv.URL, pool: w.pool, store: w.store}
	if status, body := late.do("GET", "/api/queue", ""); status != 503 {
		t.Fatalf("a plain request past its deadline: %d %v, want 503", status, body)
	}
	for _, c := range []struct{ path, body, want string }{
		{"/api/cron", `{"action":"trigger","job":"process-expired-enrollments"}`, "run_id"},
		{"/api/cron/sync", "", "processed"},
	} {
		status, body := late.do("POST", c.path, c.body)
		if status != 200 || body[c.want] == nil {
			t.Errorf("POST %s: %d %v, want 200 with %s", c.path, status, body, c.want)
		}
	}
}

// TestStatementTimeout: a query that waits longer than DB_STATEMENT_TIMEOUT (here: on a
// lock another session holds) is cancelled by PostgreSQL and answered 503.
func TestStatementTimeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewURL(t)
	pool, err := db.OpenWith(ctx, url, db.Options{MaxConns: 2, StatementTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	var setting string
	if err := pool.QueryRow(ctx, `SHOW statement_timeout`).Scan(&setting); err != nil || setting != "200ms" {
		t.Fatalf("statement_timeout = %q (%v), want 200ms", setting, err)
	}
	h := newHarnessOn(t, pool)
	locker, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(locker.Close)
	tx, err := locker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, `LOCK TABLE clients IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	status, body := h.do("GET", "/api/clients", "")
	if status != 503 || !strings.Contains(fmt.Sprint(body["error"]), "DB_STATEMENT_TIMEOUT") {
		t.Fatalf("%d %v, want 503 naming DB_STATEMENT_TIMEOUT", status, body)
	}
}

// TestHeadersAndLoggedPaths: every answer carries nosniff, and a long path is logged cut.
func TestHeadersAndLoggedPaths(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var mu sync.Mutex
	h := newHarness(t, func(o *api.Options, _ *pgxpool.Pool) {
		o.Logger = slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
	})
	for _, path := range []string{"/healthz", "/api/clients", "/api/" + strings.Repeat("é", 5000)} {
		resp, err := http.Get(h.url + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck
		resp.Body.Close()
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%.20s: X-Content-Type-Options %q", path, resp.Header.Get("X-Content-Type-Options"))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	found := false
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if p, _ := rec["path"].(string); strings.HasPrefix(p, "/api/é") {
			found = true
			if len(p) > 260 || !strings.HasSuffix(p, "…") {
				t.Errorf("logged path is %d bytes (%.40s…), want at most 256 and marked cut", len(p), p)
			}
		}
	}
	if !found {
		t.Fatalf("the long request was not logged:\n%s", logs.String())
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
