package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"tiersync/internal/cli"
	"tiersync/internal/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// runCmd runs the CLI in-process with the given environment.
func runCmd(t *testing.T, envVars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), cli.Env{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return envVars[k] }}, args)
	return code, out.String(), errOut.String()
}

func TestHelp(t *testing.T) {
	for _, c := range []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"--help"}, 0, "fakecrm"},
		{[]string{"--help"}, 0, "  queue "}, // every bench, in the top-level help
		{[]string{"--help"}, 0, "  expire "},
		{[]string{"--help"}, 0, "  e2e "},
		{[]string{"--help"}, 0, "  report "},
		{[]string{"demo", "--help"}, 0, "-keep"},
		{[]string{"bench", "--help"}, 0, "queue"},
		{[]string{"serve"}, 2, "unknown command"},
	} {
		code, out, errOut := runCmd(t, nil, c.args...)
		if code != c.code || !strings.Contains(out+errOut, c.contains) {
			t.Errorf("tiersync-dev %v: exit %d, output lacks %q or code is not %d:\n%s%s", c.args, code, c.contains, c.code, out, errOut)
		}
	}
}

func TestBenchQueuePrintsOneJSONLine(t *testing.T) {
	url := dbtest.NewURL(t) // a server to make the scratch database on
	code, out, errOut := runCmd(t, map[string]string{"DATABASE_URL": url}, "bench", "queue", "--jobs", "500", "--workers", "4")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res struct {
		Bench      string  `json:"bench"`
		Jobs       int     `json:"jobs"`
		Seconds    float64 `json:"seconds"`
		JobsPerSec float64 `json:"jobs_per_sec"`
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &res) != nil || res.Bench != "queue" || res.Jobs != 500 || res.JobsPerSec <= 0 {
		t.Fatalf("output %q", out)
	}
}

// TestFakeCRMCommand serves the fake Commerce7 from the CLI and talks to it over HTTP.
func TestFakeCRMCommand(t *testing.T) {
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, env{Stdout: pw, Stderr: io.Discard, Getenv: func(string) string { return "" }},
			[]string{"fakecrm", "--listen", "127.0.0.1:0", "--c7-tenants", "napa", "--shopify-shops", "napa.myshopify.com=tok"})
		pw.Close()
	}()
	out := bufio.NewReader(pr)
	line, err := out.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if second, err := out.ReadString('\n'); err != nil || !strings.Contains(second, "fake Shopify at") {
		t.Fatalf("second line %q (%v)", second, err)
	}
	go io.Copy(io.Discard, pr)
	base := strings.Fields(line)[3] // "fake Commerce7 at http://ADDR/v1 (app id …)"
	get := func(tenant string) int {
		req, _ := http.NewRequest("GET", base+"/customer?q=a", nil)
		req.SetBasicAuth("tiersync-demo", "demo-secret")
		req.Header.Set("tenant", tenant)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get("napa"); s != 200 {
		t.Fatalf("known tenant: %d", s)
	}
	if s := get("sonoma"); s != 401 {
		t.Fatalf("unknown tenant: %d", s)
	}
	graphql := func(token string) int {
		req, _ := http.NewRequest("POST", strings.TrimSuffix(base, "/v1")+"/admin/api/2026-10/graphql.json",
			strings.NewReader(`{"query":"query { customers(first: 1, query: \"email:a@b.c\") { nodes { id } } }"}`))
		req.Header.Set("X-Shopify-Access-Token", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := graphql("tok"); s != 200 {
		t.Fatalf("shopify with its token: %d", s)
	}
	if s := graphql("nope"); s != 401 {
		t.Fatalf("shopify with a wrong token: %d", s)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("fakecrm exited %d", code)
	}
}
