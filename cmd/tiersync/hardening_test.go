package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"tiersync/internal/db/dbtest"
)

// TestServeKeepsProbesAndMetricsApart is issue 16's /metrics finding at the level of a
// running serve: with METRICS_ADDR set /metrics is on its own listener (and not on the
// public one); with every connection of a DB_MAX_CONNS=2 pool stuck in requests that wait
// on a lock, /readyz still answers 200 from its own connection, and so does /metrics;
// and a request whose headers pass 64 KiB is refused with 431.
func TestServeKeepsProbesAndMetricsApart(t *testing.T) {
	url := dbtest.NewURL(t)
	ctx := context.Background()
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := mln.Addr().String() // serve takes mln itself: nobody else can take the port meanwhile
	cfg := loadServerConfig(t, map[string]string{
		"DATABASE_URL":        url,
		"TIERSYNC_API_TOKEN":  "serve-test-token-123456",
		"TIERSYNC_SECRET_KEY": "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU=",
		"WORKERS":             "0",
		"DB_MAX_CONNS":        "2",
		"SCHEDULE_EXPIRE":     "off",
		"SCHEDULE_SYNC":       "off",
		"METRICS_ADDR":        metricsAddr,
	})
	base, _ := startServeOn(t, cfg, mln)
	get := func(u string, header http.Header) int {
		t.Helper()
		req, _ := http.NewRequest("GET", u, nil)
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck
		resp.Body.Close()
		return resp.StatusCode
	}
	// First, on a fresh connection: on a kept-alive one Go's server measures the limit
	// from what its buffer already read, and lets up to about 128 KiB through (measured:
	// 70 KiB passed, 128 KiB did not) — still far below its 1 MiB default.
	if got := get(base+"/healthz", http.Header{"X-Filler": {strings.Repeat("a", 70<<10)}}); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("70 KiB of headers: %d, want 431", got)
	}
	if got := get(base+"/metrics", nil); got != 404 {
		t.Errorf("/metrics on the public listener: %d, want 404 with METRICS_ADDR set", got)
	}
	if got := get("http://"+metricsAddr+"/metrics", nil); got != 200 {
		t.Errorf("/metrics on METRICS_ADDR: %d", got)
	}

	// Hold a lock every /api/clients request waits on, and send three: two take the pool's
	// two connections and wait on the lock, the third waits for a connection.
	locker := openPool(t, url)
	tx, err := locker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, `LOCK TABLE clients IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	statuses := make(chan int, 3)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", base+"/api/clients", nil)
			req.Header.Set("Authorization", "Bearer serve-test-token-123456")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	eventually(t, func() bool {
		var waiting int
		err := locker.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = 'tiersync' AND wait_event_type = 'Lock'`).Scan(&waiting)
		return err == nil && waiting == 2
	})
	if got := get(base+"/readyz", nil); got != 200 {
		t.Errorf("/readyz with the pool exhausted: %d, want 200", got)
	}
	if got := get("http://"+metricsAddr+"/metrics", nil); got != 200 {
		t.Errorf("/metrics with the pool exhausted: %d, want 200", got)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 200 {
			t.Errorf("a request that waited on the lock: %d, want 200 once it was released", s)
		}
	}
}
