// Package system holds tiersync's system tests: the real binary, several processes, the
// CRM fake over HTTP, and failures inflicted from outside (kill -9).
package system

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/db"
	"tiersync/internal/db/dbtest"
	"tiersync/internal/testfactory"
)

// binary is the production tiersync; devBinary is tiersync-dev, which serves the fakes.
var binary, devBinary string

func TestMain(m *testing.M) {
	// A directory of this run's own, removed after the tests: a fixed path under
	// os.TempDir() was shared by every checkout of the same user, and left behind.
	dir, err := os.MkdirTemp("", "tiersync-system-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary, devBinary = filepath.Join(dir, "tiersync"), filepath.Join(dir, "tiersync-dev")
	for bin, pkg := range map[string]string{binary: "../../cmd/tiersync", devBinary: "../../cmd/tiersync-dev"} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", pkg, err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := dbtest.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// fakeCRM runs `tiersync-dev fakecrm` without a rate limit and returns its base URL.
func fakeCRM(t *testing.T) string {
	t.Helper()
	return startFake(t, []string{"fakecrm", "--listen", "127.0.0.1:0", "--c7-rate-limit", "-1"})
}

func startFake(t *testing.T, args []string) string {
	t.Helper()
	cmd := exec.Command(devBinary, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("fakecrm: %v", err)
	}
	go io.Copy(io.Discard, out) //nolint:errcheck
	m := regexp.MustCompile(`http://(\S+)/v1`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("fakecrm said %q", line)
	}
	return "http://" + m[1]
}

// replica is one `tiersync serve` process.
type replica struct {
	cmd *exec.Cmd
	log *logBuffer
}

// logBuffer is a replica's output: written by os/exec's copying goroutine while the test
// reads it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startReplica(t *testing.T, env []string) *replica {
	t.Helper()
	cmd := exec.Command(binary, "serve")
	cmd.Env = append(os.Environ(), env...)
	log := &logBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{cmd: cmd, log: log}
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			_ = r.cmd.Process.Signal(syscall.SIGTERM)
			_ = r.cmd.Wait()
		}
	})
	return r
}

func (r *replica) kill(t *testing.T) time.Time {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	_ = r.cmd.Wait()
	return at
}

func count(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitFor polls the database (the replicas are other processes: it is the only place to
// watch them) until cond, or fails after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(limit); !cond(); <-tick.C {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached in %v", what, limit)
		}
	}
}

func rows() int {
	if n, err := strconv.Atoi(os.Getenv("TIERSYNC_SYSTEM_ROWS")); err == nil && n > 0 {
		return n
	}
	return 20000
}

// TestCrashRecovery drains N add_membership rows through three replicas and the
// Commerce7 fake while killing replicas with SIGKILL twice: every row completes, the fake
// holds exactly one membership per enrollment, and the dead replicas' rows were rescued
// within the lease.
func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	n := rows()
	url := dbtest.NewURL(t)
	fake := fakeCRM(t)
	ctx := context.Background()
	pool, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	// Four wineries (a deployment serves many; one winery alone would measure its rate
	// bucket's row lock more than the queue) share the rows. Their customers exist in
	// Commerce7 already (seeded in the fake in bulk) and are linked, so each row is four
	// requests: memberships, addresses, cards, create.
	const wineries = 4
	tenants := make([]string, wineries)
	for w := range tenants {
		tenants[w] = fmt.Sprintf("winery%d", w)
		seedWinery(t, pool, fake, tenants[w], n/wineries+boolInt(w < n%wineries), w)
	}

	const lease = 3 * time.Second
	env := []string{
		"DATABASE_URL=" + url, "TIERSYNC_API_TOKEN=system-test-token-0123456789",
		"TIERSYNC_SECRET_KEY=" + "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU=",
		"COMMERCE7_API_URL=" + fake + "/v1", "COMMERCE7_APP_ID=tiersync-demo", "COMMERCE7_KEY=demo-secret",
		"WORKERS=8", "QUEUE_LEASE=" + lease.String(), "POLL_INTERVAL=200ms", "LISTEN_ADDR=127.0.0.1:0", "LOG_LEVEL=warn",
		"SCHEDULE_EXPIRE=off", "SCHEDULE_SYNC=off", "SHUTDOWN_TIMEOUT=5s",
	}
	replicas := []*replica{startReplica(t, env), startReplica(t, env), startReplica(t, env)}
	completed := func() int { return count(t, pool, `SELECT count(*) FROM crm_sync_queue WHERE status = 'completed'`) }

	type killing struct {
		pid int
		at  time.Time
	}
	var kills []killing
	for i, share := range []int{n / 4, n * 3 / 5} {
		waitFor(t, 3*time.Minute, fmt.Sprintf("%d rows completed", share), func() bool { return completed() >= share })
		victim := replicas[i]
		kills = append(kills, killing{pid: victim.cmd.Process.Pid, at: victim.kill(t)})
		replicas = append(replicas, startReplica(t, env)) // as an orchestrator would
	}
	waitFor(t, 5*time.Minute, "every row completed", func() bool { return completed() == n })

	if open := count(t, pool, `SELECT count(*) FROM crm_sync_queue WHERE status <> 'completed'`); open != 0 {
		t.Fatalf("%d rows not completed", open)
	}
	// Exactly one membership per enrollment at the fake.
	total := 0
	for _, tenant := range tenants {
		total += oneMembershipEach(t, fake, tenant)
	}
	if total != n {
		t.Fatalf("fake: %d memberships in all; want %d", total, n)
	}
	// The killed replicas' rows came back within the lease (plus the rescuer's period).
	var rescued int
	for _, k := range kills {
		var cnt int
		var last *time.Time
		err := pool.QueryRow(ctx, `SELECT count(*), max(finished_at) FROM crm_sync_attempts
			WHERE outcome = 'lease_expired' AND worker LIKE '%-' || $1 || '-%'`, strconv.Itoa(k.pid)).Scan(&cnt, &last)
		if err != nil {
			t.Fatal(err)
		}
		if cnt == 0 {
			continue // it held no row at the instant it died
		}
		rescued += cnt
		if took := last.Sub(k.at); took > lease+lease/2+time.Second {
			t.Fatalf("replica %d's rows were rescued %v after the kill; the lease is %v", k.pid, took, lease)
		}
	}
	if rescued == 0 {
		t.Fatal("no row was held by a killed replica: the kills proved nothing")
	}
	t.Logf("%d rows, %d replicas killed, %d rows rescued, 0 duplicates", n, len(kills), rescued)
}

// seedWinery makes one winery of n linked customers, each with an enrollment in its
// Pickup tier and a pending add_membership row: the customers are created in the fake's
// tenant first, so each row's customer has its Commerce7 id.
func seedWinery(t *testing.T, pool *pgxpool.Pool, fake, tenant string, n, w int) {
	t.Helper()
	seeded := seedFakeCustomers(t, fake, tenant, "member", n)
	client := testfactory.Client(t, pool, testfactory.ClientOpts{Name: fmt.Sprintf("Winery %d", w), Tenant: tenant, RateLimitPerMinute: 1000000})
	tier := testfactory.Tier(t, pool, client, testfactory.TierOpts{Name: "Gold", C7ClubID: "club-gold", C7DeliveryMethod: "Pickup"})
	members := make([]testfactory.CustomerOpts, n)
	for i := range members {
		members[i] = testfactory.CustomerOpts{Email: seeded[i].email, FirstName: "Member", LastName: "M", CRMID: seeded[i].id, CurrentTierID: tier}
	}
	customerIDs := testfactory.CustomersWith(t, pool, client, members)
	enrollments := make([]testfactory.EnrollmentOpts, n)
	for i, c := range customerIDs {
		enrollments[i] = testfactory.EnrollmentOpts{CustomerID: c, TierID: tier}
	}
	enrollmentIDs := testfactory.Enrollments(t, pool, enrollments)
	queued := make([]testfactory.QueueRowOpts, n)
	for i, c := range customerIDs {
		queued[i] = testfactory.QueueRowOpts{CustomerID: c, EnrollmentID: enrollmentIDs[i], TierID: tier, CustomerCRMID: seeded[i].id}
	}
	testfactory.QueueRows(t, pool, queued)
}

type fakeCustomer struct{ id, email string }

// seedFakeCustomers makes n customers in the fake's Commerce7 tenant, emailed
// <prefix><i>@<tenant>.example.com, and returns them with their Commerce7 ids.
func seedFakeCustomers(t *testing.T, fake, tenant, prefix string, n int) []fakeCustomer {
	t.Helper()
	type cust struct {
		FirstName string   `json:"firstName"`
		LastName  string   `json:"lastName"`
		Emails    []string `json:"emails"`
	}
	cs := make([]cust, n)
	out := make([]fakeCustomer, n)
	for i := range cs {
		out[i].email = fmt.Sprintf("%s%d@%s.example.com", prefix, i, tenant)
		cs[i] = cust{"M", strconv.Itoa(i), []string{out[i].email}}
	}
	body, _ := json.Marshal(map[string]any{"tenant": tenant, "customers": cs})
	resp, err := http.Post(fake+"/_fake/commerce7/customers", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var seeded struct{ IDs []string }
	if err := json.NewDecoder(resp.Body).Decode(&seeded); err != nil || len(seeded.IDs) != n {
		t.Fatalf("seed fake customers of %s: %v (%d ids)", tenant, err, len(seeded.IDs))
	}
	for i := range out {
		out[i].id = seeded.IDs[i]
	}
	return out
}

// oneMembershipEach checks that the fake's tenant holds exactly one Active membership per
// customer that has one, and returns how many memberships it holds.
func oneMembershipEach(t *testing.T, fake, tenant string) int {
	t.Helper()
	resp, err := http.Get(fake + "/_fake/commerce7/memberships?tenant=" + tenant)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var state struct {
		Memberships []struct{ CustomerID, ClubID, Status string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&state); err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, m := range state.Memberships {
		if m.Status == "Active" {
			per[m.CustomerID]++
		}
	}
	dups := 0
	for _, k := range per {
		dups += k - 1
	}
	if dups != 0 || len(per) != len(state.Memberships) {
		t.Fatalf("fake tenant %s: %d memberships for %d customers, %d duplicates", tenant, len(state.Memberships), len(per), dups)
	}
	return len(state.Memberships)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// freeAddr finds a free local port for a replica's HTTP server.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// systemToken is the API token of every system test's replicas.
const systemToken = "system-test-token-0123456789"

// waitReady waits until the replica at addr (host:port) answers /readyz with a 200.
func waitReady(t *testing.T, addr string, limit time.Duration) {
	t.Helper()
	waitFor(t, limit, "replica "+addr+" ready", func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
}

// callAPI sends a JSON request with systemToken to the replica at base and decodes its
// answer.
func callAPI(t *testing.T, base, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+systemToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}
