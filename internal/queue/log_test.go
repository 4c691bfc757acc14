package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer is a log sink the engine's goroutines may write to at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines(t *testing.T) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// TestFailedAttemptLoggedOnce: an operator reading the log sees each failed attempt once,
// at WARN while the row will be retried and at ERROR when it reaches failed, with the row,
// its rate key (the client), its action, the class of the error and its message.
func TestFailedAttemptLoggedOnce(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		err         error
		maxAttempts int
		level, msg  string
		class       string
	}{
		{"retryable", errors.New("commerce7: 503 Service Unavailable"), 5, "WARN", "attempt failed; retrying later", "retryable"},
		{"permanent", Permanent(errors.New("commerce7: 422 club not found")), 5, "ERROR", "row failed", "permanent"},
		{"last attempt", errors.New("commerce7: timeout"), 1, "ERROR", "row failed", "attempts_exhausted"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, 1)
			id := w.enqueue(t, 1)[0]
			if _, err := w.pool.Exec(context.Background(), `UPDATE crm_sync_queue SET max_attempts = $2 WHERE id = $1`, id, c.maxAttempts); err != nil {
				t.Fatal(err)
			}
			var logs lockedBuffer
			q := New(w.pool, func(context.Context, Job) error { return c.err },
				Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
			if _, err := q.RunOne(context.Background(), id); err != nil {
				t.Fatal(err)
			}
			var found []map[string]any
			for _, l := range logs.lines(t) {
				if l["level"] == "WARN" || l["level"] == "ERROR" {
					found = append(found, l)
				}
			}
			if len(found) != 1 {
				t.Fatalf("%d WARN/ERROR lines, want one: %v", len(found), found)
			}
			l := found[0]
			if l["level"] != c.level || l["msg"] != c.msg || l["id"] != float64(id) || l["rate_key"] != w.client ||
				l["action"] != ActionAdd || l["class"] != c.class || !strings.Contains(l["error"].(string), c.err.Error()) {
				t.Fatalf("log line %v: want %s %q for row %d, rate_key %s, class %s and the whole message", l, c.level, c.msg, id, w.client, c.class)
			}
		})
	}
}
