package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"tiersync/internal/app"
	"tiersync/internal/cli"
	"tiersync/internal/config"
	"tiersync/internal/crm/commerce7/c7test"
)

// E2EResult is the JSON line of `tiersync-dev bench e2e`.
type E2EResult struct {
	Bench       string `json:"bench"`
	Enrollments int    `json:"enrollments"`
	Concurrency int    `json:"concurrency"`
	LatencyMS   int    `json:"crm_latency_ms"`
	Tenants     int    `json:"tenants"`
	RateLimit   int    `json:"rate_limit_per_minute"`
	// InlineCompleted is how many enrollments answered "completed" within
	// INLINE_SYNC_TIMEOUT (the rest were watched at the fake until their membership).
	InlineCompleted int     `json:"inline_completed"`
	Seconds         float64 `json:"seconds"`
	PerSec          float64 `json:"per_sec"`
	P50MS           float64 `json:"p50_ms"`
	P99MS           float64 `json:"p99_ms"`
}

// benchE2E enrolls through the real API of a real server, whose workers sync to the fake
// Commerce7 answering every request after --latency, and measures each enrollment from
// its POST to its membership visible in the fake. The enrollments go round-robin to
// --tenants wineries (one each: every enrollment at an idle winery), each limited to
// --rate-limit requests a minute, which the fake enforces too (unless it is 100 000 or
// more); each enrollment is a new customer (search, create, list memberships, addresses
// and cards, create the membership: 6 requests).
func benchE2E(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "bench e2e", "bench e2e [--enrollments N] [--concurrency C] [--latency D] [--tenants T] [--rate-limit R] [--inline-timeout D]")
	n := fs.Int("enrollments", 500, "enrollments to make")
	conc := fs.Int("concurrency", 4, "clients enrolling at once")
	latency := fs.Duration("latency", 20*time.Millisecond, "the fake Commerce7's answer time")
	tenants := fs.Int("tenants", 4, "wineries the enrollments are spread over")
	rate := fs.Int("rate-limit", 100_000, "each winery's rate_limit_per_minute (100 is Commerce7's default); the fake enforces it below 100 000")
	inline := fs.Duration("inline-timeout", 2*time.Second, "INLINE_SYNC_TIMEOUT")
	cfg, err := cli.Settings(e, fs, args, config.Database)
	if err != nil {
		return err
	}
	if *n < 1 || *conc < 1 || *tenants < 1 || *rate < 1 {
		return fmt.Errorf("--enrollments, --concurrency, --tenants and --rate-limit must be at least 1")
	}
	fakeLimit := *rate
	if fakeLimit >= 100_000 {
		fakeLimit = -1
	}
	dbURL, cleanup, _, err := scratchDatabase(ctx, e, cfg.DatabaseURL, "tiersync_bench")
	if err != nil {
		return err
	}
	defer cleanup()

	fake := c7test.New(c7test.Options{AppID: "bench", AppSecret: "bench-key", RateLimit: fakeLimit})
	defer fake.Close()
	fake.SetLatency(*latency)
	fakeLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fakeSrv := &http.Server{Handler: fake.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go fakeSrv.Serve(fakeLn) //nolint:errcheck // closed below
	defer fakeSrv.Close()

	token := randomHex(24)
	env := map[string]string{
		"DATABASE_URL": dbURL, "TIERSYNC_API_TOKEN": token, "TIERSYNC_SECRET_KEY": "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU=",
		"COMMERCE7_API_URL": "http://" + fakeLn.Addr().String() + "/v1", "COMMERCE7_APP_ID": "bench", "COMMERCE7_KEY": "bench-key",
		"LOG_LEVEL": "error", "SCHEDULE_EXPIRE": "off", "SCHEDULE_SYNC": "off", "INLINE_SYNC_TIMEOUT": inline.String(),
	}
	sfs := newFlagSet(env2(e, env), "serve", "")
	sload := config.Bind(sfs, func(k string) string { return env[k] }, config.Database, config.Server)
	scfg, err := sload()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- app.Serve(sctx, scfg, cli.NewLogger(io.Discard, "error"), ln, nil) }()
	defer func() { stop(); <-served }()
	base := "http://" + ln.Addr().String()
	hc := &http.Client{Timeout: 30 * time.Second}
	if err := waitReady(ctx, hc, base); err != nil {
		return err
	}
	post := func(path, body string) (map[string]any, error) {
		req, _ := http.NewRequestWithContext(ctx, "POST", base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != 201 {
			return nil, fmt.Errorf("POST %s: HTTP %d %v", path, resp.StatusCode, out)
		}
		return out, nil
	}
	type winery struct{ client, tier string }
	wineries := make([]winery, *tenants)
	for i := range wineries {
		client, err := post("/api/clients", fmt.Sprintf(`{"name":"Bench %d","crm_type":"commerce7","tenant":"bench-%d","rate_limit_per_minute":%d}`, i, i, *rate))
		if err != nil {
			return err
		}
		tier, err := post("/api/clients/"+client["id"].(string)+"/tiers", `{"name":"Gold","rank":1,"duration_months":12,"c7_club_id":"c1ab0000-0000-4000-8000-000000000001","c7_delivery_method":"Pickup","c7_pickup_location_id":"loc-1"}`)
		if err != nil {
			return err
		}
		wineries[i] = winery{client["id"].(string), tier["id"].(string)}
	}
	inlineCompleted := 0

	var mu sync.Mutex
	var took []time.Duration
	var firstErr error
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t0 := time.Now()
				email := fmt.Sprintf("bench%d@example.com", i)
				w := wineries[i%len(wineries)]
				out, err := post("/api/enrollments", fmt.Sprintf(`{"client_id":%q,"tier_id":%q,"customer":{"email":%q,"first_name":"B","last_name":"E"}}`,
					w.client, w.tier, email))
				completed := err == nil && out["sync"].(map[string]any)["status"] == "completed"
				if err == nil && !completed {
					err = waitMembership(ctx, fake, "bench-"+strconv.Itoa(i%len(wineries)), email) // the inline wait ran out: watch the fake
				}
				mu.Lock()
				if completed {
					inlineCompleted++
				}
				if err != nil && firstErr == nil {
					firstErr = err
				}
				took = append(took, time.Since(t0))
				mu.Unlock()
			}
		}()
	}
	for i := range *n {
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return firstErr
	}
	sort.Slice(took, func(a, b int) bool { return took[a] < took[b] })
	pct := func(p float64) float64 {
		return round(float64(took[int(p*float64(len(took)-1))].Microseconds()) / 1000)
	}
	return json.NewEncoder(e.Stdout).Encode(E2EResult{Bench: "e2e", Enrollments: *n, Concurrency: *conc,
		LatencyMS: int(latency.Milliseconds()), Tenants: *tenants, RateLimit: *rate, InlineCompleted: inlineCompleted, Seconds: round(elapsed.Seconds()), PerSec: round(float64(*n) / elapsed.Seconds()),
		P50MS: pct(0.50), P99MS: pct(0.99)})
}

// waitMembership watches the fake until the customer has a membership.
func waitMembership(ctx context.Context, fake *c7test.Fake, tenant, email string) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(time.Minute); ; {
		if c, ok := fake.CustomerByEmail(tenant, email); ok && len(fake.Memberships(tenant, c.ID)) > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no membership for %s after a minute", email)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func round(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// env2 is e with its output kept (flag errors) but its environment replaced.
func env2(e env, vars map[string]string) env {
	return env{Stdout: e.Stdout, Stderr: e.Stderr, Getenv: func(k string) string { return vars[k] }}
}
