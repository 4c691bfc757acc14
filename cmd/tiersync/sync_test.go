package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/app"
	"tiersync/internal/cli"
	"tiersync/internal/config"
	"tiersync/internal/crm/commerce7/c7test"
	"tiersync/internal/crm/shopify/shopifytest"
	"tiersync/internal/db/dbtest"
	"tiersync/internal/testfactory"
)

// TestServeSyncsToCommerce7 runs serve with the real syncer against the fake Commerce7 over
// HTTP: a queued add becomes a membership and the row completes; a 503 sends the row back
// to pending with the CRM's answer recorded.
func TestServeSyncsToCommerce7(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		fault *c7test.Fault
		check func(t *testing.T, fake *c7test.Fake, r syncedRow)
	}{
		{"completed", nil, func(t *testing.T, fake *c7test.Fake, r syncedRow) {
			if r.status != "completed" || r.attempts != 1 {
				t.Fatalf("row %+v", r)
			}
			c, ok := fake.CustomerByEmail("napa", "ada@example.com")
			ms := fake.Memberships("napa", c.ID)
			if !ok || len(ms) != 1 || ms[0].ClubID != "c1ab0000-0000-4000-8000-000000000001" || ms[0].Status != "Active" {
				t.Fatalf("fake: customer %+v, memberships %+v", c, ms)
			}
			if r.membershipID == nil || *r.membershipID != ms[0].ID {
				t.Fatalf("enrollment's crm_membership_id %v, want %s", r.membershipID, ms[0].ID)
			}
		}},
		{"503 goes back to pending", &c7test.Fault{Count: 1, Kind: c7test.FaultStatus, Status: 503},
			func(t *testing.T, fake *c7test.Fake, r syncedRow) {
				if r.status != "pending" || r.attempts != 1 || r.errorMessage == nil ||
					!strings.Contains(*r.errorMessage, "HTTP 503") || !r.nextRetryAt.After(time.Now().Add(time.Minute)) {
					t.Fatalf("row %+v", r)
				}
				if r.historyStatus == nil || *r.historyStatus != 503 {
					t.Fatalf("attempt history status %v, want 503", r.historyStatus)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			fake, fakeURL := c7test.Start(t, c7test.Options{AppID: "app", AppSecret: "key", Tenants: []string{"napa"}, RateLimit: -1})
			fake.AddClub("napa", "c1ab0000-0000-4000-8000-000000000001")
			if c.fault != nil {
				fake.Inject(*c.fault)
			}
			url := dbtest.NewURL(t)
			pool := openPool(t, url)
			client := testfactory.Client(t, pool, testfactory.ClientOpts{Name: "Napa", Tenant: "napa", RateLimitPerMinute: 600})
			tier := testfactory.Tier(t, pool, client, testfactory.TierOpts{Name: "Gold", C7ClubID: "c1ab0000-0000-4000-8000-000000000001", C7DeliveryMethod: "Pickup"})
			customer := testfactory.Customer(t, pool, client, testfactory.CustomerOpts{Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace"})
			enrollment := testfactory.Enrollment(t, pool, testfactory.EnrollmentOpts{CustomerID: customer, TierID: tier})
			rowID := testfactory.QueueRow(t, pool, testfactory.QueueRowOpts{CustomerID: customer, EnrollmentID: enrollment, TierID: tier})
			cfg := loadServerConfig(t, map[string]string{
				"DATABASE_URL":        url,
				"TIERSYNC_API_TOKEN":  "serve-test-token-123456",
				"TIERSYNC_SECRET_KEY": "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU=",
				"COMMERCE7_API_URL":   fakeURL,
				"COMMERCE7_APP_ID":    "app",
				"COMMERCE7_KEY":       "key",
				"WORKERS":             "2",
				"POLL_INTERVAL":       "50ms",
			})
			_, stop := startServe(t, cfg)
			var r syncedRow
			eventually(t, func() bool {
				r = readSyncedRow(t, pool, rowID, enrollment)
				return r.status == "completed" || (r.status == "pending" && r.attempts > 0)
			})
			stop()
			c.check(t, fake, r)
		})
	}
}

type syncedRow struct {
	status        string
	attempts      int
	errorMessage  *string
	nextRetryAt   time.Time
	membershipID  *string
	historyStatus *int
}

func readSyncedRow(t *testing.T, pool *pgxpool.Pool, id int64, enrollment string) syncedRow {
	t.Helper()
	var r syncedRow
	err := pool.QueryRow(context.Background(), `
		SELECT q.status, q.attempts, q.error_message, q.next_retry_at, e.crm_membership_id,
		       (SELECT http_status FROM crm_sync_attempts a WHERE a.queue_id = q.id ORDER BY a.id DESC LIMIT 1)
		FROM crm_sync_queue q, enrollments e WHERE q.id = $1 AND e.id = $2`, id, enrollment).
		Scan(&r.status, &r.attempts, &r.errorMessage, &r.nextRetryAt, &r.membershipID, &r.historyStatus)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// eventually polls the database until cond holds: the server under test is another
// component whose progress the test can only observe there. It fails after 15 s.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 15s")
		}
		<-tick.C
	}
}

// TestServeSyncsToShopify: a Shopify client made through the API (its token sealed in the
// database), a queued add, and the customer ends with the tag and metafields at the fake.
func TestServeSyncsToShopify(t *testing.T) {
	t.Parallel()
	const shop, token = "napa.myshopify.com", "shpat_secret_napa"
	fake, fakeURL := shopifytest.Start(t, shopifytest.Options{Shops: map[string]string{shop: token}})
	fake.AddCustomer(shop, shopifytest.Customer{Email: "ada@example.com", FirstName: "Ada", Tags: []string{"vip"}})
	url := dbtest.NewURL(t)
	pool := openPool(t, url)
	apiToken := "serve-test-token-123456"
	cfg := loadServerConfig(t, map[string]string{
		"DATABASE_URL":        url,
		"TIERSYNC_API_TOKEN":  apiToken,
		"TIERSYNC_SECRET_KEY": "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU=",
		"SHOPIFY_API_URL":     fakeURL,
		"WORKERS":             "2",
		"POLL_INTERVAL":       "50ms",
	})
	base, stop := startServe(t, cfg)
	post := func(path, body string) map[string]any {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+apiToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != 201 {
			t.Fatalf("POST %s: %d %v", path, resp.StatusCode, out)
		}
		return out
	}
	client := post("/api/clients", `{"name":"Napa","crm_type":"shopify","tenant":"`+shop+`","shopify_access_token":"`+token+`","shopify_webhook_secret":"whsec_sync_test"}`)["id"].(string)
	tier := post("/api/clients/"+client+"/tiers", `{"name":"Gold","rank":1,"duration_months":12,"shopify_tag":"c1ab0000-0000-4000-8000-000000000001"}`)["id"].(string)
	customer := testfactory.Customer(t, pool, client, testfactory.CustomerOpts{Email: "ada@example.com", FirstName: "Ada", LastName: "L"})
	enrollment := testfactory.Enrollment(t, pool, testfactory.EnrollmentOpts{CustomerID: customer, TierID: tier,
		EnrolledAt: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), ExpiresAt: time.Date(2027, 11, 25, 0, 0, 0, 0, time.UTC)})
	rowID := testfactory.QueueRow(t, pool, testfactory.QueueRowOpts{CustomerID: customer, EnrollmentID: enrollment, TierID: tier})
	var r syncedRow
	eventually(t, func() bool {
		r = readSyncedRow(t, pool, rowID, enrollment)
		return r.status != "pending" && r.status != "processing"
	})
	stop()
	if r.status != "completed" || r.membershipID != nil {
		t.Fatalf("row %+v (Shopify has no membership id)", r)
	}
	all := fake.Customers(shop)
	if len(all) != 1 || strings.Join(all[0].Tags, ",") != "vip,c1ab0000-0000-4000-8000-000000000001" ||
		all[0].Metafields["tiersync.tier"].Value != "Gold" || all[0].Metafields["tiersync.expires_at"].Value != "2027-11-25T00:00:00Z" {
		t.Fatalf("Shopify customers %+v", all)
	}
	var crmID string
	if err := pool.QueryRow(context.Background(), `SELECT crm_id FROM customers WHERE email = 'ada@example.com'`).Scan(&crmID); err != nil || crmID != all[0].ID {
		t.Fatalf("customer crm_id %q (%v), want %s", crmID, err, all[0].ID)
	}
}

// TestEnrollWhileCommerce7IsDown: with Commerce7 healthy an enrollment answers with the
// CRM's membership id (the inline wait); while it answers 500 the enrollment still gets a
// 201 with the row pending, and once it recovers the row completes on its own.
func TestEnrollWhileCommerce7IsDown(t *testing.T) {
	t.Parallel()
	fake, fakeURL := c7test.Start(t, c7test.Options{AppID: "app", AppSecret: "key", RateLimit: -1})
	url := dbtest.NewURL(t)
	pool := openPool(t, url)
	apiToken := "serve-test-token-123456"
	cfg := loadServerConfig(t, map[string]string{
		"DATABASE_URL":        url,
		"TIERSYNC_API_TOKEN":  apiToken,
		"TIERSYNC_SECRET_KEY": "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU=",
		"COMMERCE7_API_URL":   fakeURL,
		"COMMERCE7_APP_ID":    "app",
		"COMMERCE7_KEY":       "key",
		"WORKERS":             "2",
		"INLINE_SYNC_TIMEOUT": "2s",
		"RETRY_BACKOFF_BASE":  "2s", // the first retry comes 4 s after the failure, after the inline wait
	})
	base, _ := startServe(t, cfg)
	post := func(path, body string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+apiToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	_, c := post("/api/clients", `{"name":"Napa","crm_type":"commerce7","tenant":"napa","rate_limit_per_minute":6000}`)
	_, tier := post("/api/clients/"+c["id"].(string)+"/tiers", `{"name":"Gold","rank":1,"duration_months":12,"c7_club_id":"c1ab0000-0000-4000-8000-000000000001","c7_delivery_method":"Pickup","c7_pickup_location_id":"loc-1"}`)
	enroll := func(email string) (int, map[string]any) {
		return post("/api/enrollments", `{"client_id":"`+c["id"].(string)+`","tier_id":"`+tier["id"].(string)+
			`","customer":{"email":"`+email+`","first_name":"Ada","last_name":"Lovelace"}}`)
	}

	status, body := enroll("ada@example.com")
	e, sync := body["enrollment"].(map[string]any), body["sync"].(map[string]any)
	if status != 201 || sync["status"] != "completed" || e["crm_membership_id"] == nil {
		t.Fatalf("healthy CRM: %d %v", status, body)
	}
	if m := fake.Memberships("napa", ""); len(m) != 1 || m[0].ID != e["crm_membership_id"] {
		t.Fatalf("fake memberships %+v", m)
	}

	fake.Inject(c7test.Fault{Count: 1000, Kind: c7test.FaultStatus, Status: 500})
	status, body = enroll("bo@example.com")
	sync = body["sync"].(map[string]any)
	if status != 201 || sync["status"] != "pending" || body["enrollment"].(map[string]any)["crm_membership_id"] != nil {
		t.Fatalf("CRM down: %d %v", status, body)
	}
	rowID := int64(sync["queue_id"].(float64))
	var errMsg string
	if err := pool.QueryRow(context.Background(), `SELECT error_message FROM crm_sync_queue WHERE id = $1`, rowID).Scan(&errMsg); err != nil || !strings.Contains(errMsg, "HTTP 500") {
		t.Fatalf("row's error %q (%v)", errMsg, err)
	}
	fake.ClearFaults()
	var r syncedRow
	eventually(t, func() bool {
		r = readSyncedRow(t, pool, rowID, body["enrollment"].(map[string]any)["id"].(string))
		return r.status == "completed"
	})
	if r.attempts < 2 || r.membershipID == nil {
		t.Fatalf("after recovery: %+v", r)
	}
}

func TestExpireCommand(t *testing.T) {
	t.Parallel()
	url := dbtest.NewURL(t)
	pool := openPool(t, url)
	client := testfactory.Client(t, pool, testfactory.ClientOpts{RateLimitPerMinute: 100})
	tier := testfactory.Tier(t, pool, client, testfactory.TierOpts{})
	for range 3 {
		customer := testfactory.Customer(t, pool, client, testfactory.CustomerOpts{CurrentTierID: tier})
		now := time.Now()
		testfactory.Enrollment(t, pool, testfactory.EnrollmentOpts{CustomerID: customer, TierID: tier,
			EnrolledAt: now.AddDate(-2, 0, 0), ExpiresAt: now.AddDate(0, 0, -1)})
	}
	env := map[string]string{"DATABASE_URL": url}
	cases := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"expire", "--batch-size", "0"}, 1, ""},
		{[]string{"expire", "--dry-run"}, 0, `"would_expire":3`},
		{[]string{"expire", "--batch-size", "2"}, 0, `{"expired":3,"queued":3,"batches":2}`},
		{[]string{"expire"}, 0, `{"expired":0,"queued":0,"batches":0}`},
	}
	for _, c := range cases {
		code, stdout, stderr := runCmd(t, env, c.args...)
		if code != c.code || !strings.Contains(stdout, c.out) {
			t.Fatalf("%v: exit %d, out %q, err %q", c.args, code, stdout, stderr)
		}
	}
}

// TestUpgradeFromOrderWebhooks: two Commerce7 order webhooks through serve, the second
// worth Platinum: at the fake, the Gold membership ends "Switching to another club" and a
// Platinum one is active.
func TestUpgradeFromOrderWebhooks(t *testing.T) {
	t.Parallel()
	fake, fakeURL := c7test.Start(t, c7test.Options{AppID: "app", AppSecret: "key", RateLimit: -1})
	url := dbtest.NewURL(t)
	pool := openPool(t, url)
	apiToken := "serve-test-token-123456"
	cfg := loadServerConfig(t, map[string]string{
		"DATABASE_URL":               url,
		"TIERSYNC_API_TOKEN":         apiToken,
		"TIERSYNC_SECRET_KEY":        "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU=",
		"COMMERCE7_API_URL":          fakeURL,
		"COMMERCE7_APP_ID":           "app",
		"COMMERCE7_KEY":              "key",
		"COMMERCE7_WEBHOOK_USER":     "hooks",
		"COMMERCE7_WEBHOOK_PASSWORD": "hook-secret",
		"WORKERS":                    "2",
	})
	base, _ := startServe(t, cfg)
	post := func(path, body string, auth func(*http.Request)) map[string]any {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		auth(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != 200 && resp.StatusCode != 201 {
			t.Fatalf("POST %s: %d %v", path, resp.StatusCode, out)
		}
		return out
	}
	token := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+apiToken) }
	napa := post("/api/clients", `{"name":"Napa","crm_type":"commerce7","tenant":"napa","rate_limit_per_minute":6000}`, token)
	client := napa["id"].(string)
	// Commerce7 posts with the client's own webhook credentials, shown once at its creation.
	hooks := func(r *http.Request) {
		r.SetBasicAuth(napa["webhook_user"].(string), napa["webhook_password"].(string))
	}
	post("/api/clients/"+client+"/tiers", `{"name":"Gold","rank":1,"duration_months":12,"min_purchase_cents":5000,"c7_club_id":"c1ab0000-0000-4000-8000-000000000001","c7_delivery_method":"Pickup","c7_pickup_location_id":"loc-1"}`, token)
	post("/api/clients/"+client+"/tiers", `{"name":"Platinum","rank":2,"duration_months":12,"min_purchase_cents":20000,"c7_club_id":"c1ab0000-0000-4000-8000-000000000002","c7_delivery_method":"Pickup","c7_pickup_location_id":"loc-1"}`, token)
	order := func(id, total string) {
		body := `{"object":"Order","action":"Create","tenantId":"napa","user":"Staff","payload":{"id":"` + id + `","total":` + total +
			`,"orderPaidDate":"` + time.Now().UTC().Format(time.RFC3339) + `","updatedAt":"u","customer":{"email":"ada@example.com","firstName":"Ada","lastName":"Lovelace"}}}`
		if got := post("/webhooks/commerce7", body, hooks)["status"]; got != "accepted" {
			t.Fatalf("order %s: %v", id, got)
		}
	}
	allDone := func() bool {
		var open int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM crm_sync_queue WHERE status <> 'completed'`).Scan(&open); err != nil {
			t.Fatal(err)
		}
		return open == 0
	}
	order("o1", "6000")
	order("o2", "25000")
	eventually(t, allDone)

	c, ok := fake.CustomerByEmail("napa", "ada@example.com")
	ms := fake.Memberships("napa", c.ID)
	if !ok || len(ms) != 2 || ms[0].ClubID != "c1ab0000-0000-4000-8000-000000000001" || ms[0].Status != "Cancelled" || ms[0].CancellationReason != "Switching to another club" ||
		ms[1].ClubID != "c1ab0000-0000-4000-8000-000000000002" || ms[1].Status != "Active" {
		t.Fatalf("Commerce7 memberships %+v", ms)
	}
	var stored string
	if err := pool.QueryRow(context.Background(), `SELECT crm_membership_id FROM enrollments WHERE status = 'active'`).Scan(&stored); err != nil || stored != ms[1].ID {
		t.Fatalf("active enrollment's membership id %q (%v), want %s", stored, err, ms[1].ID)
	}
}

// startServe runs serve with cfg on a free port and returns its base URL and stop, which
// ends it the way SIGTERM does, waits for it and fails the test on its error (the test's
// cleanup calls stop too).
func startServe(t *testing.T, cfg *config.Config) (string, func()) {
	t.Helper()
	return startServeOn(t, cfg, nil)
}

// startServeOn is startServe with METRICS_ADDR's listener already open (metricsLn), so
// that no other test can take its port between choosing it and serve listening on it.
func startServeOn(t *testing.T, cfg *config.Config, metricsLn net.Listener) (string, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.ServeOn(ctx, cfg, cli.NewLogger(io.Discard, "error"), ln, metricsLn, nil) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(stop)
	return "http://" + ln.Addr().String(), stop
}
