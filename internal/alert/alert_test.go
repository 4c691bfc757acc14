package alert

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/db/dbtest"
	"tiersync/internal/testfactory"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// receiver is a Slack-like webhook that records texts and can be told to fail.
type receiver struct {
	mu    sync.Mutex
	texts []string
	fail  bool
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	var body struct{ Text string }
	b, _ := io.ReadAll(req.Body)
	if err := json.Unmarshal(b, &body); err != nil || req.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	r.texts = append(r.texts, body.Text)
}

func (r *receiver) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.texts...)
}

type world struct {
	pool             *pgxpool.Pool
	client, customer string
	tier             string
}

func newWorld(t *testing.T) *world {
	w := &world{pool: dbtest.New(t)}
	w.client = testfactory.Client(t, w.pool, testfactory.ClientOpts{})
	w.tier = testfactory.Tier(t, w.pool, w.client, testfactory.TierOpts{})
	w.customer = testfactory.Customer(t, w.pool, w.client, testfactory.CustomerOpts{})
	return w
}

// row adds a queue row of this status and error message, created at created and updated
// now (as the database tells the time).
func (w *world) row(t *testing.T, status, msg string, created time.Time) {
	t.Helper()
	attempts := 0
	if status == "failed" {
		attempts = 5
	}
	testfactory.QueueRow(t, w.pool, testfactory.QueueRowOpts{CustomerID: w.customer, TierID: w.tier,
		Status: status, Attempts: attempts, ErrorMessage: msg, CreatedAt: created})
}

func TestAlerts(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	now := time.Now()
	clock := func() time.Time { return now }
	a := New(w.pool, Config{URL: srv.URL, PendingAge: time.Hour, Interval: 15 * time.Minute, Now: clock})
	ctx := context.Background()
	check := func(want string) {
		t.Helper()
		sent, err := a.Check(ctx)
		if err != nil || strings.Join(sent, ",") != want {
			t.Fatalf("sent %v (%v), want %q", sent, err, want)
		}
	}

	check("") // nothing to say
	w.row(t, "failed", "commerce7: create club membership: HTTP 422: Club not found", now)
	w.row(t, "pending", "", now.Add(-2*time.Hour))
	check("failed_rows,pending_age")
	texts := rcv.got()
	if len(texts) != 2 || !strings.Contains(texts[0], "1 queue row(s) failed since the last alert (1 failed in all)") ||
		!strings.Contains(texts[0], "HTTP 422: Club not found") || !strings.Contains(texts[1], "oldest pending queue row has waited 2h0m0s") {
		t.Fatalf("texts %q", texts)
	}

	// Within the interval: nothing more, even with a new failure.
	w.row(t, "failed", "shopify: add tag: userErrors: id: Customer does not exist", now)
	now = now.Add(10 * time.Minute)
	check("")

	// The receiver is down when the interval has passed: not recorded, tried again.
	now = now.Add(10 * time.Minute)
	rcv.mu.Lock()
	rcv.fail = true
	rcv.mu.Unlock()
	if sent, err := a.Check(ctx); err == nil || len(sent) != 0 {
		t.Fatalf("a failed delivery: sent %v, err %v", sent, err)
	}
	rcv.mu.Lock()
	rcv.fail = false
	rcv.mu.Unlock()
	check("failed_rows,pending_age")
	texts = rcv.got()
	if len(texts) != 4 || !strings.Contains(texts[2], "1 queue row(s) failed since the last alert (2 failed in all)") ||
		!strings.Contains(texts[2], "Customer does not exist") || strings.Contains(texts[2], "Club not found") {
		t.Fatalf("the second failed-rows alert tells only of the new row: %q", texts[2])
	}

	// After another interval with no new failure, only the old pending row is worth an alert.
	now = now.Add(20 * time.Minute)
	check("pending_age")
}

func TestNoURLNoAlerts(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.row(t, "failed", "boom", time.Now())
	if sent, err := New(w.pool, Config{}).Check(context.Background()); err != nil || sent != nil {
		t.Fatalf("sent %v (%v) without a URL", sent, err)
	}
}

// TestSend: a rare run's alert (a reconciliation's drift) goes out as it is, every time;
// nothing without a URL; a webhook that fails is an error for the caller to log.
func TestSend(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	a := New(w.pool, Config{URL: srv.URL})
	for range 2 {
		if err := a.Send(context.Background(), "tiersync: reconciling Napa found 30 difference(s)"); err != nil {
			t.Fatal(err)
		}
	}
	if got := rcv.got(); len(got) != 2 || got[0] != "tiersync: reconciling Napa found 30 difference(s)" {
		t.Fatalf("received %q", got)
	}
	rcv.mu.Lock()
	rcv.fail = true
	rcv.mu.Unlock()
	if err := a.Send(context.Background(), "x"); err == nil || strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("a failing webhook: %v (want an error without the URL)", err)
	}
	if err := New(w.pool, Config{}).Send(context.Background(), "x"); err != nil {
		t.Fatalf("no URL: %v", err)
	}
}
