package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/app"
	"tiersync/internal/cli"
	"tiersync/internal/config"
	"tiersync/internal/db"
	"tiersync/internal/db/dbtest"
	"tiersync/internal/queue"
	"tiersync/internal/testfactory"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// runCmd runs the CLI in-process with the given environment.
func runCmd(t *testing.T, envVars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), env{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return envVars[k] }}, args)
	return code, out.String(), errOut.String()
}

func TestHelpAndUsage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"--help"}, 0, "serve"},
		{[]string{"serve", "--help"}, 0, "-TIERSYNC_API_TOKEN"},
		{[]string{"serve", "--help"}, 0, "-LISTEN_ADDR"},
		{[]string{"migrate", "--help"}, 0, "status"},
		{[]string{"migrate", "--help"}, 0, "-DATABASE_URL"},
		{[]string{"demo"}, 2, "unknown command"},
		{[]string{}, 2, "Usage"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"serve", "-NOPE=1"}, 2, "unknown flag -NOPE"},
		{[]string{"serve", "-workrs=1"}, 2, "unknown flag -workrs: did you mean -WORKERS?"},
		{[]string{"serve", "--help"}, 0, "-WORKERS number"},
		{[]string{"serve", "--help"}, 0, "-QUEUE_LEASE duration"},
		{[]string{"serve", "--help"}, 0, "[env TIERSYNC_SECRET_KEY] (required)"},
		{[]string{"queue", "ls", "--help"}, 0, "[env DATABASE_URL] (required)"},
		{[]string{"queue", "--help"}, 0, "-DATABASE_URL url"},
		{[]string{"cron", "--help"}, 0, "-SCHEDULE_EXPIRE cron|off"},
		{[]string{"clients", "--help"}, 0, "-COMMERCE7_API_URL url"},
		{[]string{"shopify", "--help"}, 0, "-PUBLIC_URL url"},
		{[]string{"queue"}, 2, "Usage: tiersync queue ls"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, out, errOut := runCmd(t, nil, c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, c.code, out, errOut)
			}
			if !strings.Contains(out+errOut, c.contains) {
				t.Fatalf("output lacks %q:\n%s%s", c.contains, out, errOut)
			}
		})
	}
	// Required is what each command needs: the token is serve's alone.
	if _, out, _ := runCmd(t, nil, "queue", "ls", "--help"); strings.Contains(out, "TIERSYNC_API_TOKEN] (required)") {
		t.Fatalf("queue ls --help marks the API token required:\n%s", out)
	}
	if _, out, _ := runCmd(t, nil, "serve", "--help"); strings.Count(out, "(required)") != 3 {
		t.Fatalf("serve --help: want DATABASE_URL, the token and the key required:\n%s", out)
	}
	// migrate --help must not list the server's settings.
	if _, out, _ := runCmd(t, nil, "migrate", "--help"); strings.Contains(out, "WORKERS") {
		t.Fatalf("migrate --help lists server settings:\n%s", out)
	}
}

func TestMigrateCommands(t *testing.T) {
	t.Parallel()
	envVars := map[string]string{"DATABASE_URL": dbtest.NewURL(t)}
	// The test database comes migrated: up has nothing to do, down to 0 empties it, up again fills it.
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "up"}, "applied 0 migration(s)"},
		{[]string{"migrate", "status"}, "applied"},
		{[]string{"migrate", "down", "--to", "0"}, "database at version 0"},
		{[]string{"migrate", "status"}, "pending"},
		{[]string{"migrate", "up"}, "database at version"},
	}
	for _, s := range steps {
		code, out, errOut := runCmd(t, envVars, s.args...)
		if code != 0 || !strings.Contains(out, s.want) {
			t.Fatalf("%v: exit %d, output lacks %q:\n%s%s", s.args, code, s.want, out, errOut)
		}
	}
	// One line per migration applied, then the summary; never the SQL, on either stream.
	runCmd(t, envVars, "migrate", "down", "--to", "0")
	code, out, errOut := runCmd(t, envVars, "migrate", "up")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || int64(len(lines)) != db.LatestVersion()+1 || !strings.HasPrefix(lines[0], "applied 00001_schema.sql (") ||
		strings.Contains(out+errOut, "CREATE TABLE") {
		t.Fatalf("migrate up: exit %d, want one line per migration and no SQL:\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runCmd(t, envVars, "migrate", "sideways"); code == 0 || !strings.Contains(errOut, "up, down or status") {
		t.Fatalf("unknown verb: exit %d %s", code, errOut)
	}
	if code, _, errOut := runCmd(t, nil, "migrate", "up"); code == 0 || !strings.Contains(errOut, "DATABASE_URL") {
		t.Fatalf("no DATABASE_URL: exit %d %s", code, errOut)
	}
	// Through a transaction pooler goose's session lock would stay behind on a server
	// session: refused before connecting, with the way to do it.
	pooled := map[string]string{"DATABASE_URL": envVars["DATABASE_URL"], "DB_POOLER": "transaction"}
	if code, _, errOut := runCmd(t, pooled, "migrate", "up"); code == 0 || !strings.Contains(errOut, "DB_POOLER=none") {
		t.Fatalf("migrate through a pooler: exit %d %s", code, errOut)
	}
}

func TestServeRefusesMissingSecrets(t *testing.T) {
	t.Parallel()
	code, _, errOut := runCmd(t, map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1:1/x"}, "serve")
	if code != 1 || !strings.Contains(errOut, "TIERSYNC_API_TOKEN") || !strings.Contains(errOut, "TIERSYNC_SECRET_KEY") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

// TestServeAndShutdown runs the real server and workers on a free port, uses it, and stops
// it the way SIGTERM does (the context ends): serve returns cleanly, and the row a worker
// was still running when the grace period ended is released, its attempt given back.
func TestServeAndShutdown(t *testing.T) {
	t.Parallel()
	url := dbtest.NewURL(t)
	rowID := seedOneRow(t, url)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	envVars := map[string]string{
		"DATABASE_URL":        url,
		"TIERSYNC_API_TOKEN":  "serve-test-token-123456",
		"TIERSYNC_SECRET_KEY": "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU=",
		"LOG_LEVEL":           "error",
		"SHUTDOWN_TIMEOUT":    "200ms",
		"METRICS_INTERVAL":    "20ms",
	}
	cfg := loadServerConfig(t, envVars)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	running := make(chan int64, 1)
	handler := func(ctx context.Context, j queue.Job) error {
		running <- j.ID
		<-ctx.Done() // a CRM call still going when the grace period ends
		return ctx.Err()
	}
	go func() { done <- app.Serve(ctx, cfg, cli.NewLogger(io.Discard, "error"), ln, handler) }()
	if got := <-running; got != rowID {
		t.Fatalf("worker ran row %d, want %d", got, rowID)
	}

	base := "http://" + ln.Addr().String()
	get := func(path, tok string) int {
		req, _ := http.NewRequest("GET", base+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get("/healthz", ""); got != 200 {
		t.Fatalf("healthz %d", got)
	}
	if got := get("/readyz", ""); got != 200 {
		t.Fatalf("readyz %d", got)
	}
	if got := get("/api/clients", ""); got != 401 {
		t.Fatalf("no token: %d", got)
	}
	if got := get("/api/clients", "serve-test-token-123456"); got != 200 {
		t.Fatalf("with token: %d", got)
	}
	// The row gauges come from a background refresh (every METRICS_INTERVAL): wait for one
	// that saw the row running.
	var metrics []byte
	var resp *http.Response
	eventually(t, func() bool {
		var err error
		if resp, err = http.Get(base + "/metrics"); err != nil {
			t.Fatal(err)
		}
		metrics, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		return strings.Contains(string(metrics), `tiersync_queue_rows{action_type="add_membership",status="processing"} 1`)
	})
	if resp.StatusCode != 200 ||
		!strings.Contains(string(metrics), `tiersync_http_requests_total{route="GET /api/clients",status="200"} 1`) ||
		!strings.Contains(string(metrics), `tiersync_http_requests_total{route="GET /api/clients",status="401"} 1`) ||
		!strings.Contains(string(metrics), `tiersync_http_request_duration_seconds_count{route="GET /healthz"} 1`) {
		t.Fatalf("/metrics %d lacks the processing row:\n%.2000s", resp.StatusCode, metrics)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve after shutdown: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("server still answers after shutdown")
	}
	var status string
	var attempts int
	pool := openPool(t, url)
	if err := pool.QueryRow(context.Background(), `SELECT status, attempts FROM crm_sync_queue WHERE id = $1`, rowID).Scan(&status, &attempts); err != nil {
		t.Fatal(err)
	}
	if status != "pending" || attempts != 0 {
		t.Fatalf("row after shutdown: %s with %d attempts, want pending with 0", status, attempts)
	}
}

func openPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := db.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// seedOneRow makes a client, tier and customer and one pending queue row.
func seedOneRow(t *testing.T, url string) int64 {
	t.Helper()
	pool := openPool(t, url)
	client := testfactory.Client(t, pool, testfactory.ClientOpts{RateLimitPerMinute: 100})
	tier := testfactory.Tier(t, pool, client, testfactory.TierOpts{})
	customer := testfactory.Customer(t, pool, client, testfactory.CustomerOpts{})
	return testfactory.QueueRow(t, pool, testfactory.QueueRowOpts{CustomerID: customer, TierID: tier})
}

func loadServerConfig(t *testing.T, envVars map[string]string) *config.Config {
	t.Helper()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	load := config.Bind(fs, func(k string) string { return envVars[k] }, config.Database, config.Server)
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.CheckServer(); err != nil {
		t.Fatal(err)
	}
	return cfg
}
