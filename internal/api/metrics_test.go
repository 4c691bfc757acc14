package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"tiersync/internal/api"
	"tiersync/internal/db"
	"tiersync/internal/db/dbtest"
	"tiersync/internal/membership"
	"tiersync/internal/metrics"
	"tiersync/internal/queue"
	"tiersync/internal/secretbox"
)

// queryCounter is a pgx tracer that counts the statements a pool sends.
type queryCounter struct{ n atomic.Int64 }

func (c *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// heldGatherer gathers, then holds each scrape until release is closed, so that the test
// knows scrapes are in flight while it sends other requests (no timing involved).
type heldGatherer struct {
	prometheus.Gatherer
	entered chan struct{}
	release chan struct{}
}

func (g heldGatherer) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := g.Gatherer.Gather()
	g.entered <- struct{}{}
	<-g.release
	return mfs, err
}

// TestScrapesCostTheDatabaseNothing is issue 16's /metrics finding: 32 threads scraping a
// 3-million-row queue starved the 4-connection pool, so /readyz answered 503 and a signed
// webhook took 8 s. Here 32 scrapers hammer /metrics over a 100 000-row queue on a
// 4-connection pool: the scrapes send no query at all (the gauges are a snapshot refreshed
// in the background, one query per refresh), at most 4 run at once and the rest are turned
// away at once, and while 4 scrapes are held in flight a Commerce7 webhook and /readyz are
// answered 200.
func TestScrapesCostTheDatabaseNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewURL(t)
	var counted queryCounter
	pool, err := db.OpenWith(ctx, url, db.Options{MaxConns: 4, Tracer: &counted})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	readyPool, err := db.OpenWith(ctx, url, db.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(readyPool.Close)
	box, err := secretbox.New([]byte("secret-key-for-tests-only-012345"))
	if err != nil {
		t.Fatal(err)
	}
	store := membership.NewStore(pool, box)
	engine := queue.New(pool, func(context.Context, queue.Job) error { return nil }, queue.Config{Workers: 1})
	reg := prometheus.NewRegistry()
	gauges, err := queue.NewMetrics(reg, engine)
	if err != nil {
		t.Fatal(err)
	}
	held := heldGatherer{Gatherer: reg, entered: make(chan struct{}, 64), release: make(chan struct{})}
	srv := httptest.NewServer(api.New(api.Options{
		Token: token, Store: store, Engine: engine, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Ready:    func(ctx context.Context) error { return db.CheckReady(ctx, readyPool) },
		Metrics:  metrics.Handler(held, slog.New(slog.NewTextHandler(io.Discard, nil))),
		Webhooks: api.Webhooks{Commerce7User: "hooks", Commerce7Password: "hook-password"},
	}))
	t.Cleanup(srv.Close)

	h := &harness{t: t, url: srv.URL, pool: pool, store: store}
	status, body := h.do("POST", "/api/clients", `{"name":"Napa","crm_type":"commerce7","tenant":"napa"}`)
	if status != 201 {
		t.Fatalf("client: %d %v", status, body)
	}
	client := body["id"].(string)
	h.makeLegacy(client) // its webhook below authenticates with the global pair
	if status, body := h.do("POST", "/api/clients/"+client+"/tiers",
		`{"name":"Gold","rank":1,"duration_months":12,"min_purchase_cents":5000,"c7_club_id":"c1ab0000-0000-4000-8000-000000000001"}`); status != 201 {
		t.Fatalf("tier: %d %v", status, body)
	}
	// A large queue: 100 000 completed cancellations of one customer.
	_, err = pool.Exec(ctx, `
		WITH c AS (INSERT INTO customers (client_id, email) VALUES ($1, 'bulk@example.com') RETURNING id)
		INSERT INTO crm_sync_queue (client_id, customer_id, action_type, tier_id, status, completed_at)
		SELECT $1, c.id, 'cancel_membership', t.id, 'completed', now()
		FROM c, tiers t, generate_series(1, 100000)
		WHERE t.client_id = $1`, client)
	if err != nil {
		t.Fatal(err)
	}
	if err := gauges.Refresh(ctx); err != nil {
		t.Fatal(err)
	}

	before := counted.n.Load()
	const scrapers, each = 32, 10
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		answers = map[int]int{}
	)
	for range scrapers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				resp, err := http.Get(srv.URL + "/metrics")
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 && !strings.Contains(string(b), `tiersync_queue_rows{action_type="cancel_membership",status="completed"} 100000`) {
					t.Errorf("a scrape without the queue's row count:\n%.2000s", b)
				}
				mu.Lock()
				answers[resp.StatusCode]++
				mu.Unlock()
			}
		}()
	}
	// Four scrapes are inside the handler and held there: the in-flight limit is full.
	for range 4 {
		<-held.entered
	}
	order := `{"object":"Order","action":"Create","tenantId":"napa","user":"someone",
		"payload":{"id":"o-1","customerId":"c7-ada","total":6000,"orderPaidDate":"2026-11-30T10:00:00Z","updatedAt":"2026-11-30T10:00:00Z",
		"customer":{"email":"ada@example.com","firstName":"Ada","lastName":"Lovelace"}}}`
	req, _ := http.NewRequest("POST", srv.URL+"/webhooks/commerce7", strings.NewReader(order))
	req.SetBasicAuth("hooks", "hook-password")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "accepted") {
		t.Fatalf("webhook while scrapes are in flight: %d %s", resp.StatusCode, b)
	}
	if status, body := h.doWith("GET", "/readyz", "", nil); status != 200 {
		t.Fatalf("readyz while scrapes are in flight: %d %v", status, body)
	}
	webhookQueries := counted.n.Load() - before
	close(held.release)
	wg.Wait()
	scrapeQueries := counted.n.Load() - before - webhookQueries

	if scrapeQueries != 0 {
		t.Errorf("%d scrapes sent %d queries to the database, want 0", scrapers*each, scrapeQueries)
	}
	if answers[200] == 0 || answers[200]+answers[503] != scrapers*each {
		t.Errorf("scrape answers %v: want 200s, and 503 for those turned away", answers)
	}
	if answers[503] == 0 {
		t.Errorf("no scrape was turned away while 4 were held in flight: %v", answers)
	}
	if gauges.Refreshes() != 1 {
		t.Errorf("gauges refreshed %d times, want once (the test's own refresh)", gauges.Refreshes())
	}
}
