// Package examples_test runs the shell examples of README.md, docs/api.md and
// docs/operations.md verbatim, so that what a reader pastes works.
//
// Each doc's ```sh (or ```bash) blocks run in order in one bash session (set -e -o
// pipefail): variables one block sets are there for the next. Nothing in a command is
// changed, with one exception: every loopback port a doc names (127.0.0.1:8080, :8081…)
// is swapped for a free one, so the test never collides with anything listening on the
// machine. Inside a block, a line starting with "{" or "[" directly followed by a
// non-blank is an answer the doc shows, not a command (bash could only fail on it), and
// is left out. An HTML comment on the line before a block changes how it runs; keep them
// rare:
//
//	<!-- example: background -->      the block serves until the session ends (tiersync
//	                                   serve): it runs in the background, and the session
//	                                   goes on once every address the doc names answers
//	<!-- example: skip (why) -->       the block is not run, for the reason given
//
// curl is wrapped to fail on an HTTP error (--fail-with-body) and to log each call's
// status, so a doc's examples can read as plain `curl -s` and still fail the test.
//
// The database is a private PostgreSQL cluster of this test's own (internal/devdb), even
// when DATABASE_URL names a server: the README creates a database named tiersync, and a
// server of our own is the only place where that name cannot belong to someone else.
// libpq's PGHOST, PGPORT and PGUSER point the README's createdb and DATABASE_URL at it.
package examples_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/db"
	"tiersync/internal/devdb"
)

// repo is the repository root: the README's commands (make build, bin/tiersync) run there.
const repo = "../.."

// tiersyncAddr is tiersync's default LISTEN_ADDR and fakeAddr the fake CRMs' address in
// the README; the docs call both, and the harness serves them on the ports it swaps in.
const (
	tiersyncAddr = "127.0.0.1:8080"
	fakeAddr     = "127.0.0.1:8081"
)

// block is one fenced shell block of a doc.
type block struct {
	line       int // of the opening fence, 1-based
	text       string
	background bool
	skip       string // why, when the block is not run
}

var (
	fenceRe  = regexp.MustCompile("^```([A-Za-z0-9_-]*)")
	markerRe = regexp.MustCompile(`^<!--\s*example:\s*(.*?)\s*-->$`)
	addrRe   = regexp.MustCompile(`127\.0\.0\.1:(\d+)`)
	// answerRe is a line that can only be an answer shown after a command: "{" or "["
	// glued to what follows is never a bash group or test command.
	answerRe = regexp.MustCompile(`^[\[{][^\s]`)
	// heredocRe finds a here-document's terminator (<<EOF, <<-EOF, <<'EOF').
	heredocRe = regexp.MustCompile(`<<-?\s*['"]?([A-Za-z_][A-Za-z0-9_]*)['"]?`)
)

// parse returns the doc's shell blocks with their markers. A marker before anything but a
// shell block, or an unknown marker, is an error: a marker that does nothing misleads.
func parse(doc string) ([]block, error) {
	var blocks []block
	lines := strings.Split(doc, "\n")
	for i := 0; i < len(lines); i++ {
		m := fenceRe.FindStringSubmatch(lines[i])
		marker := ""
		if j := prevNonBlank(lines, i); j >= 0 {
			if mm := markerRe.FindStringSubmatch(strings.TrimSpace(lines[j])); mm != nil {
				marker = mm[1]
			}
		}
		if m == nil {
			if mm := markerRe.FindStringSubmatch(strings.TrimSpace(lines[i])); mm != nil {
				if k := nextNonBlank(lines, i); k < 0 || !isShellFence(lines[k]) {
					return nil, fmt.Errorf("line %d: %q is not followed by a ```sh block", i+1, lines[i])
				}
			}
			continue
		}
		start := i
		var body []string
		for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
			body = append(body, lines[i])
		}
		if !isShellFence(lines[start]) {
			continue
		}
		b := block{line: start + 1, text: strings.Join(body, "\n")}
		switch {
		case marker == "":
		case marker == "background":
			b.background = true
		case strings.HasPrefix(marker, "skip (") && strings.HasSuffix(marker, ")") && len(marker) > len("skip ()"):
			b.skip = marker[len("skip (") : len(marker)-1]
		default:
			return nil, fmt.Errorf("line %d: unknown marker %q (want background or skip (why))", start, marker)
		}
		blocks = append(blocks, b)
	}
	return blocks, nil
}

func isShellFence(line string) bool {
	m := fenceRe.FindStringSubmatch(line)
	return m != nil && (m[1] == "sh" || m[1] == "bash")
}

func prevNonBlank(lines []string, i int) int {
	for j := i - 1; j >= 0; j-- {
		if strings.TrimSpace(lines[j]) != "" {
			return j
		}
	}
	return -1
}

func nextNonBlank(lines []string, i int) int {
	for j := i + 1; j < len(lines); j++ {
		if strings.TrimSpace(lines[j]) != "" {
			return j
		}
	}
	return -1
}

// commands drops the answers a block shows; the commands, and here-documents whole,
// stay as written.
func commands(text string) string {
	var out []string
	continued := false
	heredoc := "" // the terminator of the here-document being read
	for _, l := range strings.Split(text, "\n") {
		switch {
		case heredoc != "":
			if strings.TrimLeft(l, "\t") == heredoc {
				heredoc = ""
			}
		case !continued && answerRe.MatchString(l):
			continue
		default:
			if m := heredocRe.FindStringSubmatch(l); m != nil {
				heredoc = m[1]
			}
		}
		out = append(out, l)
		continued = strings.HasSuffix(l, "\\")
	}
	return strings.Join(out, "\n")
}

// prelude runs before a doc's blocks. curl fails on an HTTP error unless the doc already
// says how (-f, --fail…), and logs every call's status on stderr for the test to check.
const prelude = `set -eE -o pipefail
curl() {
  local a w='%{stderr}::curl:: %{http_code} %{method} %{url_effective}\n'
  for a in "$@"; do
    case $a in --fail|--fail-with-body|-[!-]*f*) command curl -S -w "$w" "$@"; return;; esac
  done
  command curl --fail-with-body -S -w "$w" "$@"
}
# __ready PID ADDR...: wait until each address answers HTTP, while PID (a background
# block) lives.
__ready() {
  local pid=$1 a deadline=$((SECONDS+30)); shift
  for a in "$@"; do
    until command curl -s -o /dev/null --max-time 1 "http://$a/"; do
      kill -0 "$pid" 2>/dev/null || { echo "the background block stopped before $a answered" >&2; exit 1; }
      [ $SECONDS -lt $deadline ] || { echo "$a did not answer within 30 s" >&2; exit 1; }
      sleep 0.1
    done
  done
}
trap 'echo "::failed:: line $LINENO: $BASH_COMMAND" >&2' ERR
`

// script is the bash program for a doc: the prelude, then each block with a header line
// naming where it comes from, its ports swapped.
func script(name string, blocks []block, ports map[string]string) string {
	var s strings.Builder
	s.WriteString(prelude)
	addrs := []string{}
	for _, a := range ports {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	for _, b := range blocks {
		if b.skip != "" {
			continue
		}
		text := addrRe.ReplaceAllStringFunc(commands(b.text), func(a string) string { return ports[a] })
		fmt.Fprintf(&s, "\necho '::block:: %s:%d' >&2\n", name, b.line)
		if b.background {
			fmt.Fprintf(&s, "{\n%s\n} &\n__ready $! %s\n", text, strings.Join(addrs, " "))
		} else {
			fmt.Fprintf(&s, "%s\n", text)
		}
	}
	s.WriteString("\necho '::done::' >&2\n")
	return s.String()
}

// ports gives every loopback address the blocks name (and tiersync's and the fakes',
// which the harness serves) a free port.
func ports(t *testing.T, blocks []block) map[string]string {
	t.Helper()
	m := map[string]string{}
	add := func(addr string) {
		if _, ok := m[addr]; !ok {
			m[addr] = "127.0.0.1:" + strconv.Itoa(freePort(t))
		}
	}
	add(tiersyncAddr)
	add(fakeAddr)
	for _, b := range blocks {
		if b.skip == "" {
			for _, a := range addrRe.FindAllString(b.text, -1) {
				add(a)
			}
		}
	}
	return m
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// env is the sessions' environment: this process's, without any tiersync or libpq
// setting that would point a doc's commands elsewhere than the harness's servers.
func env(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "DATABASE_URL", k == "LISTEN_ADDR", k == "METRICS_ADDR", k == "PUBLIC_URL", k == "WORKERS",
			k == "ALERT_WEBHOOK_URL", strings.HasPrefix(k, "TIERSYNC_"), strings.HasPrefix(k, "COMMERCE7_"),
			strings.HasPrefix(k, "SHOPIFY_"), strings.HasPrefix(k, "PG"):
			continue
		}
		out = append(out, kv)
	}
	return append(out, extra...)
}

// session is what a doc's run needs and leaves.
type session struct {
	cluster *devdb.Cluster
	ports   map[string]string
	env     []string
	calls   []string // "::curl::" lines: status, method, URL
}

// run runs the doc's blocks in one bash session and fails the test on the first failing
// command, showing where in the doc it was; then check, while what the doc started in the
// background still runs.
func (s *session) run(t *testing.T, name string, blocks []block, check func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script(name, blocks, s.ports))
	cmd.Dir = repo
	cmd.Env = s.env
	// Its own process group: what the doc starts in the background (fakecrm, serve) is
	// stopped with the session, whatever happened.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A file, not a pipe: the background processes keep their copy of it open, and a
	// pipe would keep Wait waiting for them.
	logFile, err := os.Create(filepath.Join(t.TempDir(), "session.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	start := time.Now()
	err = cmd.Start()
	if err == nil {
		defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck
		err = cmd.Wait()
	}
	raw, rerr := os.ReadFile(logFile.Name())
	if rerr != nil {
		t.Fatal(rerr)
	}
	out := bytes.NewBuffer(raw)
	where := ""
	sc := bufio.NewScanner(bytes.NewReader(out.Bytes()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "::block:: "):
			where = strings.TrimPrefix(l, "::block:: ")
		case strings.HasPrefix(l, "::curl:: "):
			s.calls = append(s.calls, strings.TrimPrefix(l, "::curl:: "))
		}
	}
	if err != nil || !bytes.Contains(out.Bytes(), []byte("::done::")) {
		t.Fatalf("%s: the block at %s failed (%v); the session's output:\n%s", name, where, err, tail(out.String(), 60))
	}
	for _, c := range s.calls {
		if !strings.HasPrefix(c, "2") {
			t.Errorf("%s: a call answered %s", name, c)
		}
	}
	t.Logf("%s: %d blocks, %d HTTP calls, all 2xx, in %v", name, len(blocks), len(s.calls), time.Since(start).Round(time.Millisecond))
	if check != nil {
		check()
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func readBlocks(t *testing.T, path string) []block {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(repo, path))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := parse(string(doc))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return blocks
}

// newSession readies the environment a doc's commands run in, on the shared cluster c.
// The README makes its own database and starts its own servers; the other docs are
// reference pages, which assume a running tiersync: serve starts one for them.
func newSession(t *testing.T, c *devdb.Cluster, blocks []block) *session {
	t.Helper()
	s := &session{cluster: c, ports: ports(t, blocks)}
	path := os.Getenv("PATH")
	// createdb and psql come with the server binaries devdb runs, should the machine
	// have no client package on PATH.
	if bin, err := devdb.FindBinaries(); err == nil {
		path += ":" + bin
	}
	s.env = env("PATH="+path, "PGHOST=127.0.0.1", "PGPORT="+strconv.Itoa(c.Port()), "PGUSER=postgres",
		"LISTEN_ADDR="+s.ports[tiersyncAddr])
	return s
}

// serve starts the fake CRMs and tiersync on a fresh database, as the README does, for
// a doc that assumes them running; its session gets the API token in the environment.
func (s *session) serve(t *testing.T, bins string, dbname string, settings ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.cluster.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{dbname}.Sanitize())
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	url := s.cluster.URL(dbname)
	if err := db.MigrateUp(ctx, url); err != nil {
		t.Fatal(err)
	}
	token := randomHex(24)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	fake := "http://" + s.ports[fakeAddr]
	serverEnv := env("DATABASE_URL="+url, "TIERSYNC_API_TOKEN="+token,
		"TIERSYNC_SECRET_KEY="+base64.StdEncoding.EncodeToString(key), "LISTEN_ADDR="+s.ports[tiersyncAddr],
		"COMMERCE7_API_URL="+fake+"/v1", "COMMERCE7_APP_ID=tiersync-demo", "COMMERCE7_KEY=demo-secret",
		"SHOPIFY_API_URL="+fake)
	serverEnv = append(serverEnv, settings...)
	start := func(name string, args ...string) {
		cmd := exec.Command(filepath.Join(bins, name), args...)
		cmd.Env = serverEnv
		log, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			log.Close()
			if t.Failed() {
				b, _ := os.ReadFile(log.Name())
				t.Logf("%s's output:\n%s", name, tail(string(b), 40))
			}
		})
	}
	start("tiersync-dev", "fakecrm", "--listen", s.ports[fakeAddr], "--shopify-shops", "vino.myshopify.com=shpat_demo")
	start("tiersync", "serve")
	waitHTTP(t, "http://"+s.ports[tiersyncAddr]+"/readyz")
	waitHTTP(t, fake+"/_fake/commerce7/requests")
	// The doc's reader is the operator of that server: its settings are theirs, and its
	// binary is the tiersync on their PATH.
	for _, kv := range serverEnv {
		if k, _, _ := strings.Cut(kv, "="); k == "PATH" {
			kv = "PATH=" + bins + ":" + strings.TrimPrefix(kv, "PATH=")
		}
		s.env = append(s.env, kv)
	}
}

// api calls the served tiersync (or, with an absolute URL, the fake) and decodes the answer.
func (s *session) api(t *testing.T, method, path, body string) map[string]any {
	t.Helper()
	url := path
	if strings.HasPrefix(path, "/") {
		url = "http://" + s.ports[tiersyncAddr] + path
	}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range s.env {
		if v, ok := strings.CutPrefix(kv, "TIERSYNC_API_TOKEN="); ok {
			req.Header.Set("Authorization", "Bearer "+v)
		}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %v", method, path, resp.StatusCode, out)
	}
	return out
}

// seedFailedRows makes the state operations.md's queue examples act on: a Commerce7
// client whose two newest enrollments failed (the fake refused them), run by no worker.
func (s *session) seedFailedRows(t *testing.T) {
	t.Helper()
	client := s.api(t, "POST", "/api/clients", `{"name":"Napa Cellars","crm_type":"commerce7","tenant":"napa-cellars"}`)["id"].(string)
	tier := s.api(t, "POST", "/api/clients/"+client+"/tiers", `{"name":"Gold","rank":1,"duration_months":12,`+
		`"c7_club_id":"5a1e7000-0000-4000-8000-000000000002","c7_delivery_method":"Pickup","c7_pickup_location_id":"0b7e3c52-9d14-4a6f-8e21-5c3a9f7d2e10"}`)["id"].(string)
	s.api(t, "POST", "http://"+s.ports[fakeAddr]+"/_fake/commerce7/faults", `{"kind":"status","status":422,"count":2}`)
	for _, who := range []string{"ada", "grace"} {
		s.api(t, "POST", "/api/enrollments", fmt.Sprintf(`{"client_id":%q,"tier_id":%q,"customer":{"email":"%s@example.com","first_name":%q,"last_name":"Example"}}`,
			client, tier, who, who))
	}
	for try := 0; ; try++ {
		s.api(t, "POST", "/api/cron/sync", "")
		stats := s.api(t, "GET", "/api/queue/stats", "")["by_status"].(map[string]any)
		if stats["failed"] == float64(2) {
			return
		}
		if try == 20 {
			t.Fatalf("seeding: the queue is %v, not two failed rows", stats)
		}
		time.Sleep(100 * time.Millisecond) // the rate bucket refills; not a test signal
	}
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer 200 within 30 s (last: %v)", url, err)
		}
		time.Sleep(50 * time.Millisecond) // polling a process we started, not a test signal
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ensureJQ installs jq, which the docs use to keep ids from answers, the way the browser
// test installs Chromium: CI must run these examples, not skip them.
func ensureJQ(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("jq"); err == nil {
		return
	}
	if _, err := exec.LookPath("apt-get"); err == nil && os.Geteuid() == 0 {
		t.Log("installing Debian's jq package for the docs' examples")
		for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "jq"}} {
			cmd := exec.Command("apt-get", args...)
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Logf("apt-get %v: %v\n%s", args, err, out)
				break
			}
		}
	}
	if _, err := exec.LookPath("jq"); err != nil {
		t.Fatal("no jq: install Debian's jq package (apt-get install jq) to run the docs' examples")
	}
}

// build makes the binaries the harness serves reference docs with (the README builds its
// own with make build, as a reader does).
func build(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"tiersync", "tiersync-dev"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), "./cmd/"+name)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", name, err, out)
		}
	}
	return dir
}

// checkSynced asserts that the database dbname holds enrollments and that each one's
// add_membership row is completed with a membership the fake Commerce7 holds in the club
// of the enrollment's tier, Active while the enrollment is (a doc may cancel one).
func (s *session) checkSynced(t *testing.T, dbname string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.cluster.URL(dbname))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `
		SELECT c.tenant, t.c7_club_id, coalesce(e.crm_membership_id, ''), q.status, e.status = 'active'
		FROM enrollments e
		JOIN clients c ON c.id = e.client_id
		JOIN tiers t ON t.id = e.tier_id
		JOIN crm_sync_queue q ON q.enrollment_id = e.id AND q.action_type = 'add_membership'
		WHERE c.crm_type = 'commerce7'`)
	if err != nil {
		t.Fatal(err)
	}
	type enrollment struct {
		tenant, club, membership, status string
		active                           bool
	}
	var es []enrollment
	for rows.Next() {
		var e enrollment
		if err := rows.Scan(&e.tenant, &e.club, &e.membership, &e.status, &e.active); err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(es) == 0 {
		t.Fatalf("%s has no Commerce7 enrollment: the examples enrolled nobody", dbname)
	}
	for _, e := range es {
		if e.status != "completed" {
			t.Errorf("an enrollment of %s: its add_membership row is %s, not completed", e.tenant, e.status)
			continue
		}
		resp, err := http.Get("http://" + s.ports[fakeAddr] + "/_fake/commerce7/memberships?tenant=" + e.tenant)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Memberships []struct{ ID, ClubID, Status string }
		}
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, m := range got.Memberships {
			found = found || (m.ID == e.membership && m.ClubID == e.club && (m.Status == "Active" || !e.active))
		}
		if !found {
			t.Errorf("the fake Commerce7 holds no membership %q in club %s of tenant %s (Active: %v): %+v", e.membership, e.club, e.tenant, e.active, got.Memberships)
		}
	}
}

// TestDocExamples runs each doc's examples in a session of its own, side by side, on one
// private cluster (each doc its own database) with binaries built once.
func TestDocExamples(t *testing.T) {
	ensureJQ(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := devdb.Start(ctx, devdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	bins := build(t)

	// The README, from "make build" to its last curl, against the database it creates
	// and the fake CRMs it starts: its enrollment must be completed at the fake Commerce7.
	t.Run("README.md", func(t *testing.T) {
		t.Parallel()
		blocks := readBlocks(t, "README.md")
		s := newSession(t, c, blocks)
		s.run(t, "README.md", blocks, func() { s.checkSynced(t, "tiersync") })
	})
	// The reference pages, against a running tiersync: every call answers 2xx, and
	// api.md's enrollments reach the fake Commerce7.
	t.Run("docs/api.md", func(t *testing.T) {
		t.Parallel()
		blocks := readBlocks(t, "docs/api.md")
		s := newSession(t, c, blocks)
		s.serve(t, bins, "tiersync_api")
		s.run(t, "docs/api.md", blocks, func() { s.checkSynced(t, "tiersync_api") })
	})
	t.Run("docs/operations.md", func(t *testing.T) {
		t.Parallel()
		blocks := readBlocks(t, "docs/operations.md")
		s := newSession(t, c, blocks)
		// No workers: the rows stay where the examples put them until the examples run them.
		s.serve(t, bins, "tiersync_ops", "WORKERS=0", "INLINE_SYNC_TIMEOUT=10ms")
		s.seedFailedRows(t)
		s.run(t, "docs/operations.md", blocks, nil)
	})
}
