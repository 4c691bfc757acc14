package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/db/dbtest"
)

// TestDemoStory runs `tiersync-dev demo --size small --speed fast` to the end of its story
// and checks its summary: every row completed, the expiries done, memberships in both fakes.
// With --keep, what it leaves behind is said after Ctrl-C, with how to remove it.
func TestDemoStory(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep=%v", keep), func(t *testing.T) {
			t.Parallel()
			testDemoStory(t, keep)
		})
	}
}

func testDemoStory(t *testing.T, keep bool) {
	url := dbtest.NewURL(t) // the demo makes (and drops) a database of its own on this server
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	args := []string{"demo", "--size", "small", "--speed", "fast"}
	if keep {
		args = append(args, "--keep")
	}
	go func() {
		done <- run(ctx, env{Stdout: pw, Stderr: io.Discard, Getenv: func(k string) string {
			return map[string]string{"DATABASE_URL": url, "LISTEN_ADDR": "127.0.0.1:0"}[k]
		}}, args)
		pw.Close()
	}()
	var out strings.Builder
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "The demo keeps serving") {
			break
		}
	}
	cancel()        // Ctrl-C
	for sc.Scan() { // what the demo says as it stops
		out.WriteString(sc.Text() + "\n")
	}
	if code := <-done; code != 0 {
		t.Fatalf("demo exited %d:\n%s", code, out.String())
	}
	text := out.String()
	summary := text[strings.Index(text, "Summary"):]
	for _, want := range []string{
		"queue rows:      pending 0, processing 0,",
		"failed 0,",
		"enrollments:     active 10,",
		"expired 4",
		"Commerce7 fake:  ",
		"club-silver cancelled",
		"Shopify fake:    ",
		"tag club-silver",
	} {
		if !strings.Contains(summary, want) {
			t.Fatalf("summary lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(text, "the nightly job, run now: 4 expired, 4 cancellations queued") {
		t.Fatalf("story:\n%s", text)
	}
	kept := regexp.MustCompile(`DROP DATABASE (tiersync_demo_[0-9a-f]+)`).FindStringSubmatch(text)
	if !keep {
		if kept != nil || strings.Contains(text, "database kept") {
			t.Fatalf("without --keep the demo says it kept something:\n%s", text)
		}
		return
	}
	if kept == nil || !strings.Contains(text, "database kept: ") {
		t.Fatalf("--keep: no line saying what was kept and how to drop it:\n%s", text)
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "DROP DATABASE "+kept[1]+" WITH (FORCE)"); err != nil {
		t.Fatalf("the kept database %s is not there to drop: %v", kept[1], err)
	}
}

func TestBenchE2E(t *testing.T) {
	url := dbtest.NewURL(t)
	code, out, errOut := runCmd(t, map[string]string{"DATABASE_URL": url}, "bench", "e2e", "--enrollments", "6", "--concurrency", "2", "--latency", "1ms")
	var res E2EResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("exit %d, out %q, err %q", code, out, errOut)
	}
	if res.Bench != "e2e" || res.Enrollments != 6 || res.PerSec <= 0 || res.P50MS <= 0 || res.P99MS < res.P50MS {
		t.Fatalf("result %+v", res)
	}
}

// TestBenchReport writes the `make bench` section, then replaces it, leaving the rest.
func TestBenchReport(t *testing.T) {
	dir := t.TempDir()
	in, doc := dir+"/bench.jsonl", dir+"/benchmarks.md"
	if err := os.WriteFile(doc, []byte("# Benchmarks\n\nHand-written history.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{`{"bench":"queue","jobs_per_sec":100}`, `{"bench":"river","jobs_per_sec":50}`} {
		if err := os.WriteFile(in, []byte(line+"\nnot json\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, _, errOut := runCmd(t, nil, "bench", "report", "--in", in, "--doc", doc, "--machine", "test box"); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	}
	b, _ := os.ReadFile(doc)
	text := string(b)
	if !strings.HasPrefix(text, "# Benchmarks\n\nHand-written history.\n") || strings.Count(text, reportBegin) != 1 ||
		!strings.Contains(text, "| river | jobs_per_sec 50 |") || strings.Contains(text, "| queue |") || !strings.Contains(text, "Machine: test box.") {
		t.Fatalf("document:\n%s", text)
	}
}
