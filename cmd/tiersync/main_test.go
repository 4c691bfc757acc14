package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"tiersync/internal/config"
	"tiersync/internal/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// runCmd runs the CLI in-process with the given environment.
func runCmd(t *testing.T, envVars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), env{stdout: &out, stderr: &errOut, getenv: func(k string) string { return envVars[k] }}, args)
	return code, out.String(), errOut.String()
}

func TestHelpAndUsage(t *testing.T) {
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
		{[]string{"demo", "--help"}, 0, "-keep"},
		{[]string{}, 2, "Usage"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"serve", "-NOPE=1"}, 2, "flag provided but not defined"},
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
	// migrate --help must not list the server's settings.
	if _, out, _ := runCmd(t, nil, "migrate", "--help"); strings.Contains(out, "WORKERS") {
		t.Fatalf("migrate --help lists server settings:\n%s", out)
	}
}

func TestMigrateCommands(t *testing.T) {
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
	if code, _, errOut := runCmd(t, envVars, "migrate", "sideways"); code == 0 || !strings.Contains(errOut, "up, down or status") {
		t.Fatalf("unknown verb: exit %d %s", code, errOut)
	}
	if code, _, errOut := runCmd(t, nil, "migrate", "up"); code == 0 || !strings.Contains(errOut, "DATABASE_URL") {
		t.Fatalf("no DATABASE_URL: exit %d %s", code, errOut)
	}
}

func TestServeRefusesMissingSecrets(t *testing.T) {
	code, _, errOut := runCmd(t, map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1:1/x"}, "serve")
	if code != 1 || !strings.Contains(errOut, "TIERSYNC_API_TOKEN") || !strings.Contains(errOut, "TIERSYNC_SECRET_KEY") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

// TestServeAndShutdown runs the real server on a free port, uses it, and stops it the way
// SIGTERM does (the context ends): serve must return cleanly.
func TestServeAndShutdown(t *testing.T) {
	url := dbtest.NewURL(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	envVars := map[string]string{
		"DATABASE_URL":        url,
		"TIERSYNC_API_TOKEN":  "serve-test-token-123456",
		"TIERSYNC_SECRET_KEY": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)),
		"LOG_LEVEL":           "error",
	}
	cfg := loadServerConfig(t, envVars)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, newLogger(io.Discard, "error"), ln) }()

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
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve after shutdown: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("server still answers after shutdown")
	}
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
