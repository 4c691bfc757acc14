package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/api"
	"tiersync/internal/db"
	"tiersync/internal/db/dbtest"
	"tiersync/internal/membership"
	"tiersync/internal/secretbox"
	"tiersync/internal/shopifyapp"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const token = "test-token-0123456789"

type harness struct {
	t     *testing.T
	url   string
	pool  *pgxpool.Pool
	store *membership.Store
	shops *shopifyapp.Store
	ready error
}

func newHarness(t *testing.T, opts ...func(*api.Options, *pgxpool.Pool)) *harness {
	t.Helper()
	return newHarnessOn(t, dbtest.New(t), opts...)
}

// newHarnessOn is newHarness on a pool the test made (a pool with settings of its own).
func newHarnessOn(t *testing.T, pool *pgxpool.Pool, opts ...func(*api.Options, *pgxpool.Pool)) *harness {
	t.Helper()
	box, err := secretbox.New(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, pool: pool, store: membership.NewStore(pool, box),
		shops: shopifyapp.New(shopifyapp.Config{Pool: pool, Box: box})}
	o := api.Options{
		Token:   token,
		Store:   h.store,
		Shopify: h.shops,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Ready: func(ctx context.Context) error {
			if h.ready != nil {
				return h.ready
			}
			return db.CheckReady(ctx, pool)
		},
	}
	for _, f := range opts {
		f(&o, pool)
	}
	srv := httptest.NewServer(api.New(o))
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

// do sends a request with the token and returns the status and decoded JSON body.
func (h *harness) do(method, path, body string) (int, map[string]any) {
	h.t.Helper()
	return h.doWith(method, path, body, map[string]string{"Authorization": "Bearer " + token})
}

func (h *harness) doWith(method, path, body string, headers map[string]string) (int, map[string]any) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		h.t.Fatalf("%s %s: Content-Type %q, want JSON", method, path, ct)
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		h.t.Fatalf("%s %s: body is not a JSON object: %v", method, path, err)
	}
	return resp.StatusCode, out
}

func (h *harness) count(table string) int {
	h.t.Helper()
	var n int
	if err := h.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

func TestAuth(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cases := []struct {
		name   string
		header string
		want   int
	}{
		{"no header", "", http.StatusUnauthorized},
		{"wrong token", "Bearer nope", http.StatusUnauthorized},
		{"token as prefix", "Bearer " + token + "x", http.StatusUnauthorized},
		{"basic scheme", "Basic " + token, http.StatusUnauthorized},
		{"right token", "Bearer " + token, http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			headers := map[string]string{}
			if c.header != "" {
				headers["Authorization"] = c.header
			}
			status, body := h.doWith("GET", "/api/clients", "", headers)
			if status != c.want {
				t.Fatalf("status %d, want %d (%v)", status, c.want, body)
			}
			if c.want == http.StatusUnauthorized && body["error"] == nil {
				t.Fatalf("401 without an error message: %v", body)
			}
		})
	}
	// Unknown endpoints under /api/ are hidden behind the token too.
	if status, _ := h.doWith("GET", "/api/nope", "", nil); status != http.StatusUnauthorized {
		t.Fatalf("unknown endpoint without token: %d, want 401", status)
	}
}

func TestProbesAndRouting(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cases := []struct {
		name, method, path string
		auth               bool
		want               int
	}{
		{"healthz needs no token", "GET", "/healthz", false, 200},
		{"readyz needs no token", "GET", "/readyz", false, 200},
		{"unknown api path", "GET", "/api/nope", true, 404},
		{"wrong method", "DELETE", "/api/clients", true, 405},
		{"wrong method on a pattern", "PUT", "/api/clients/00000000-0000-4000-8000-000000000000/tiers", true, 405},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			headers := map[string]string{}
			if c.auth {
				headers["Authorization"] = "Bearer " + token
			}
			status, body := h.doWith(c.method, c.path, "", headers)
			if status != c.want {
				t.Fatalf("status %d, want %d (%v)", status, c.want, body)
			}
			if c.want >= 400 && body["error"] == nil {
				t.Fatalf("error answer without an error message: %v", body)
			}
		})
	}
	h.ready = errors.New("database unreachable")
	if status, body := h.doWith("GET", "/readyz", "", nil); status != 503 || body["status"] != "unavailable" || strings.Contains(fmt.Sprint(body), "database unreachable") {
		t.Fatalf("readyz while not ready: %d %v", status, body)
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	req, _ := http.NewRequest("GET", h.url+"/healthz", nil)
	req.Header.Set("X-Request-Id", "lb-1234")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got != "lb-1234" {
		t.Fatalf("X-Request-Id = %q, want the caller's", got)
	}
	req.Header.Set("X-Request-Id", "bad id with spaces")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got == "" || strings.Contains(got, " ") {
		t.Fatalf("X-Request-Id = %q, want a fresh one", got)
	}
}

func TestCreateClientValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if status, body := h.do("POST", "/api/clients", `{"name":"Existing","crm_type":"commerce7","tenant":"existing"}`); status != 201 {
		t.Fatalf("setup: %d %v", status, body)
	}
	before := h.count("clients")
	big := `{"name":"` + strings.Repeat("x", 1<<20) + `"}`
	cases := []struct {
		name, body string
		want       int
		msg        string // part of the error message
	}{
		{"malformed JSON", `{"name":`, 400, "malformed JSON"},
		{"empty body", ``, 400, "empty"},
		{"array body", `[1]`, 400, "object"},
		{"trailing data", `{"name":"a","crm_type":"commerce7","tenant":"t1"} {}`, 400, "single JSON object"},
		{"missing name", `{"crm_type":"commerce7","tenant":"t1"}`, 400, "name"},
		{"missing crm_type", `{"name":"a","tenant":"t1"}`, 400, "crm_type"},
		{"missing tenant", `{"name":"a","crm_type":"commerce7"}`, 400, "tenant"},
		{"blank name", `{"name":"  ","crm_type":"commerce7","tenant":"t1"}`, 400, "name"},
		{"wrong type", `{"name":"a","crm_type":"commerce7","tenant":"t1","rate_limit_per_minute":"fast"}`, 400, "rate_limit_per_minute must be an integer"},
		{"unknown field", `{"name":"a","crm_type":"commerce7","tenant":"t1","rate":5}`, 400, "unknown field"},
		{"unknown crm_type", `{"name":"a","crm_type":"salesforce","tenant":"t1"}`, 422, "crm_type"},
		{"zero rate limit", `{"name":"a","crm_type":"commerce7","tenant":"t1","rate_limit_per_minute":0}`, 422, "rate_limit_per_minute"},
		{"negative rate limit", `{"name":"a","crm_type":"commerce7","tenant":"t1","rate_limit_per_minute":-5}`, 422, "rate_limit_per_minute"},
		{"bad commerce7 tenant", `{"name":"a","crm_type":"commerce7","tenant":"has spaces"}`, 422, "tenant"},
		{"shopify without credentials", `{"name":"a","crm_type":"shopify","tenant":"a.myshopify.com"}`, 422, "shopify_client_id and shopify_client_secret"},
		{"shopify token without its webhook secret", `{"name":"a","crm_type":"shopify","tenant":"a.myshopify.com","shopify_access_token":"x"}`, 422, "shopify_webhook_secret"},
		{"client_credentials without secret", `{"name":"a","crm_type":"shopify","tenant":"a.myshopify.com","shopify_auth":"client_credentials","shopify_client_id":"id"}`, 422, "shopify_client_secret"},
		{"client_credentials with a token", `{"name":"a","crm_type":"shopify","tenant":"a.myshopify.com","shopify_auth":"client_credentials","shopify_client_id":"id","shopify_client_secret":"s","shopify_access_token":"x"}`, 422, "not used with shopify_auth"},
		{"oauth without the deployment's app", `{"name":"a","crm_type":"shopify","tenant":"a.myshopify.com","shopify_auth":"oauth"}`, 422, "SHOPIFY_APP_CLIENT_ID"},
		{"unknown shopify_auth", `{"name":"a","crm_type":"shopify","tenant":"a.myshopify.com","shopify_auth":"password"}`, 422, "shopify_auth"},
		{"a secret with a newline", `{"name":"a","crm_type":"shopify","tenant":"a.myshopify.com","shopify_access_token":"x\ny","shopify_webhook_secret":"w"}`, 422, "printable ASCII"},
		{"shopify custom domain", `{"name":"a","crm_type":"shopify","tenant":"shop.example.com","shopify_access_token":"x","shopify_webhook_secret":"whsec_test"}`, 422, "myshopify.com"},
		{"token on commerce7", `{"name":"a","crm_type":"commerce7","tenant":"t1","shopify_access_token":"x","shopify_webhook_secret":"whsec_test"}`, 422, "only for shopify"},
		{"not a currency", `{"name":"a","crm_type":"commerce7","tenant":"t1","currency":"dollars"}`, 422, "ISO 4217"},
		{"duplicate tenant", `{"name":"b","crm_type":"commerce7","tenant":"EXISTING"}`, 409, "already exists"},
		{"too large", big, 413, "larger than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := h.do("POST", "/api/clients", c.body)
			if status != c.want {
				t.Fatalf("status %d, want %d (%v)", status, c.want, body)
			}
			msg, _ := body["error"].(string)
			if !strings.Contains(msg, c.msg) {
				t.Fatalf("error %q does not mention %q", msg, c.msg)
			}
		})
	}
	if after := h.count("clients"); after != before {
		t.Fatalf("rejected requests wrote %d client(s)", after-before)
	}
}

func TestClientsCreateAndList(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	status, c7 := h.do("POST", "/api/clients", `{"name":"Spectrum Winery","crm_type":"commerce7","tenant":"spectrum"}`)
	if status != 201 {
		t.Fatalf("create: %d %v", status, c7)
	}
	if c7["rate_limit_per_minute"] != float64(membership.DefaultCommerce7RatePerMinute) || c7["crm_type"] != "commerce7" || c7["currency"] != "USD" ||
		c7["tenant"] != "spectrum" || c7["id"] == "" || c7["created_at"] == nil {
		t.Fatalf("client answer: %v", c7)
	}
	status, sh := h.do("POST", "/api/clients", `{"name":"Shop","crm_type":"shopify","tenant":"Vino-Shop.myshopify.com",
		"rate_limit_per_minute":250,"shopify_access_token":"shpat_plaintext_secret","shopify_webhook_secret":"whsec_test"}`)
	if status != 201 {
		t.Fatalf("create shopify: %d %v", status, sh)
	}
	if sh["tenant"] != "vino-shop.myshopify.com" || sh["rate_limit_per_minute"] != float64(250) {
		t.Fatalf("shopify client answer: %v", sh)
	}
	if _, leaked := sh["shopify_access_token"]; leaked {
		t.Fatal("the token came back in the answer")
	}

	// The stored token is not the plain text, and decrypts to it.
	var stored []byte
	var auth string
	if err := h.pool.QueryRow(context.Background(), `SELECT access_token_enc, auth FROM shopify_connections WHERE client_id = $1`,
		sh["id"]).Scan(&stored, &auth); err != nil {
		t.Fatal(err)
	}
	if len(stored) == 0 || bytes.Contains(stored, []byte("shpat_plaintext_secret")) || auth != "token" {
		t.Fatalf("stored token is empty or plain text: %q (auth %q)", stored, auth)
	}
	if tok, err := h.shops.Tokens(sh["id"].(string)).Token(context.Background()); err != nil || tok != "shpat_plaintext_secret" {
		t.Fatalf("Token = %q, %v", tok, err)
	}

	// Paging: one per page, then the end.
	status, page1 := h.do("GET", "/api/clients?limit=1", "")
	if status != 200 {
		t.Fatalf("list: %d %v", status, page1)
	}
	items := page1["items"].([]any)
	cursor, _ := page1["next_cursor"].(string)
	if len(items) != 1 || items[0].(map[string]any)["id"] != c7["id"] || cursor == "" {
		t.Fatalf("first page: %v", page1)
	}
	if _, leaked := items[0].(map[string]any)["shopify_access_token"]; leaked {
		t.Fatal("token in list")
	}
	_, page2 := h.do("GET", "/api/clients?limit=1&cursor="+cursor, "")
	items = page2["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["id"] != sh["id"] || page2["next_cursor"] != nil {
		t.Fatalf("second page: %v", page2)
	}
	for _, q := range []string{"limit=0", "limit=501", "limit=x", "cursor=garbage!"} {
		if status, body := h.do("GET", "/api/clients?"+q, ""); status != 400 || body["error"] == nil {
			t.Errorf("?%s: %d %v, want 400", q, status, body)
		}
	}
}

func TestTiers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, c7 := h.do("POST", "/api/clients", `{"name":"C7","crm_type":"commerce7","tenant":"c7"}`)
	_, sh := h.do("POST", "/api/clients", `{"name":"Sh","crm_type":"shopify","tenant":"sh.myshopify.com","shopify_access_token":"t","shopify_webhook_secret":"whsec_test"}`)
	c7Tiers := "/api/clients/" + c7["id"].(string) + "/tiers"
	shTiers := "/api/clients/" + sh["id"].(string) + "/tiers"

	status, gold := h.do("POST", c7Tiers, `{"name":"Gold","rank":2,"duration_months":12,"min_purchase_cents":50000,"c7_club_id":"c1ab0000-0000-4000-8000-000000000001"}`)
	if status != 201 || gold["c7_delivery_method"] != "Ship" || gold["min_ltv_cents"] != float64(0) || gold["shopify_tag"] != nil {
		t.Fatalf("create tier: %d %v", status, gold)
	}
	if status, body := h.do("POST", shTiers, `{"name":"VIP","rank":1,"duration_months":6,"min_ltv_cents":100000,"shopify_tag":"tier-vip"}`); status != 201 {
		t.Fatalf("create shopify tier: %d %v", status, body)
	}
	before := h.count("tiers")
	cases := []struct {
		name, path, body string
		want             int
		msg              string
	}{
		{"missing rank", c7Tiers, `{"name":"S","duration_months":12,"c7_club_id":"c1ab0000-0000-4000-8000-0000000000c2"}`, 400, "rank"},
		{"missing duration", c7Tiers, `{"name":"S","rank":1,"c7_club_id":"c1ab0000-0000-4000-8000-0000000000c2"}`, 400, "duration_months"},
		{"rank not integer", c7Tiers, `{"name":"S","rank":1.5,"duration_months":12,"c7_club_id":"c1ab0000-0000-4000-8000-0000000000c2"}`, 400, "rank must be an integer"},
		{"client id not a uuid", "/api/clients/abc/tiers", `{"name":"S","rank":1,"duration_months":12,"c7_club_id":"c1ab0000-0000-4000-8000-0000000000c2"}`, 400, "UUID"},
		{"unknown client", "/api/clients/00000000-0000-4000-8000-000000000000/tiers", `{"name":"S","rank":1,"duration_months":12,"c7_club_id":"c1ab0000-0000-4000-8000-0000000000c2"}`, 404, "not found"},
		{"zero duration", c7Tiers, `{"name":"S","rank":1,"duration_months":0,"c7_club_id":"c1ab0000-0000-4000-8000-0000000000c2"}`, 422, "duration_months"},
		{"negative purchase", c7Tiers, `{"name":"S","rank":1,"duration_months":12,"min_purchase_cents":-1,"c7_club_id":"c1ab0000-0000-4000-8000-0000000000c2"}`, 422, "min_purchase_cents"},
		{"negative ltv", c7Tiers, `{"name":"S","rank":1,"duration_months":12,"min_ltv_cents":-1,"c7_club_id":"c1ab0000-0000-4000-8000-0000000000c2"}`, 422, "min_ltv_cents"},
		{"negative rank", c7Tiers, `{"name":"S","rank":-1,"duration_months":12,"c7_club_id":"c1ab0000-0000-4000-8000-0000000000c2"}`, 422, "rank"},
		{"bad delivery", c7Tiers, `{"name":"S","rank":1,"duration_months":12,"c7_club_id":"c1ab0000-0000-4000-8000-0000000000c2","c7_delivery_method":"Drone"}`, 422, "c7_delivery_method"},
		{"Pickup without location", c7Tiers, `{"name":"S","rank":1,"duration_months":12,"c7_club_id":"c1ab0000-0000-4000-8000-0000000000c2","c7_delivery_method":"Pickup"}`, 422, "needs c7_pickup_location_id"},
		{"Pickup with a blank location", c7Tiers, `{"name":"S","rank":1,"duration_months":12,"c7_club_id":"c1ab0000-0000-4000-8000-0000000000c2","c7_delivery_method":"Pickup","c7_pickup_location_id":" "}`, 422, "needs c7_pickup_location_id"},
		{"location on a Ship tier", c7Tiers, `{"name":"S","rank":1,"duration_months":12,"c7_club_id":"c1ab0000-0000-4000-8000-0000000000c2","c7_pickup_location_id":"loc-1"}`, 422, "only for Pickup tiers"},
		{"location on shopify", shTiers, `{"name":"S","rank":2,"duration_months":12,"shopify_tag":"t2","c7_pickup_location_id":"loc-1"}`, 422, "c7_pickup_location_id"},
		{"c7 without club", c7Tiers, `{"name":"S","rank":1,"duration_months":12}`, 422, "c7_club_id"},
		{"club not a Commerce7 id", c7Tiers, `{"name":"S","rank":1,"duration_months":12,"c7_club_id":"club-gold"}`, 422, "Commerce7 ids are UUIDs"},
		{"club a UUID without dashes", c7Tiers, `{"name":"S","rank":1,"duration_months":12,"c7_club_id":"c1ab00000000400080000000000000c2"}`, 422, "not a Commerce7 club id"},
		{"duplicate club in capitals", c7Tiers, `{"name":"S","rank":3,"duration_months":12,"c7_club_id":"C1AB0000-0000-4000-8000-000000000001"}`, 409, "c1ab0000-0000-4000-8000-000000000001"},
		{"tag on c7", c7Tiers, `{"name":"S","rank":1,"duration_months":12,"c7_club_id":"c1ab0000-0000-4000-8000-0000000000c2","shopify_tag":"x"}`, 422, "shopify_tag"},
		{"club on shopify", shTiers, `{"name":"S","rank":2,"duration_months":12,"c7_club_id":"c1ab0000-0000-4000-8000-0000000000c2"}`, 422, "c7_club_id"},
		{"shopify without tag", shTiers, `{"name":"S","rank":2,"duration_months":12}`, 422, "shopify_tag"},
		{"tag with comma", shTiers, `{"name":"S","rank":2,"duration_months":12,"shopify_tag":"a,b"}`, 422, "commas"},
		{"duplicate rank", c7Tiers, `{"name":"S","rank":2,"duration_months":12,"c7_club_id":"c1ab0000-0000-4000-8000-0000000000c2"}`, 409, "rank 2"},
		{"duplicate club", c7Tiers, `{"name":"S","rank":3,"duration_months":12,"c7_club_id":"c1ab0000-0000-4000-8000-000000000001"}`, 409, "c1ab0000-0000-4000-8000-000000000001"},
		{"duplicate tag", shTiers, `{"name":"S","rank":3,"duration_months":12,"shopify_tag":"tier-vip"}`, 409, "tier-vip"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := h.do("POST", c.path, c.body)
			if status != c.want {
				t.Fatalf("status %d, want %d (%v)", status, c.want, body)
			}
			if msg, _ := body["error"].(string); !strings.Contains(msg, c.msg) {
				t.Fatalf("error %q does not mention %q", msg, c.msg)
			}
		})
	}
	if after := h.count("tiers"); after != before {
		t.Fatalf("rejected requests wrote %d tier(s)", after-before)
	}

	if status, body := h.do("POST", c7Tiers, `{"name":"Silver","rank":1,"duration_months":12,"c7_club_id":"c1ab0000-0000-4000-8000-000000000004","c7_delivery_method":"Pickup","c7_pickup_location_id":"loc-napa"}`); status != 201 {
		t.Fatalf("second tier: %d %v", status, body)
	}
	status, list := h.do("GET", c7Tiers, "")
	items, _ := list["items"].([]any)
	if status != 200 || len(items) != 2 || items[0].(map[string]any)["name"] != "Silver" || items[1].(map[string]any)["name"] != "Gold" {
		t.Fatalf("tiers by rank: %d %v", status, list)
	}
	if silver, gold := items[0].(map[string]any), items[1].(map[string]any); silver["c7_pickup_location_id"] != "loc-napa" ||
		gold["c7_pickup_location_id"] != nil {
		t.Fatalf("c7_pickup_location_id: Pickup %v, Ship %v", silver["c7_pickup_location_id"], gold["c7_pickup_location_id"])
	}
	if status, _ := h.do("GET", "/api/clients/00000000-0000-4000-8000-000000000000/tiers", ""); status != 404 {
		t.Fatalf("tiers of unknown client: %d, want 404", status)
	}
}
