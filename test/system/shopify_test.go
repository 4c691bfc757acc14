package system

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/db"
	"tiersync/internal/db/dbtest"
	"tiersync/internal/testfactory"
)

// noRedirect shows a redirect instead of following it: the test plays the merchant's
// browser one hop at a time.
var noRedirect = &http.Client{Timeout: 10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// shopifyWorld is one `tiersync serve` and `tiersync-dev fakecrm`, with three shops
// connected the three ways.
type shopifyWorld struct {
	t        *testing.T
	fake     string // the fake's base URL
	base     string // the replica's base URL (also its PUBLIC_URL)
	token    string
	clients  map[string]string // shop → client id
	tiers    map[string]string // shop → tier id
	replicas []*replica
}

const (
	staticShop   = "static-vines.myshopify.com" // token: a legacy custom app
	ownShop      = "own-app.myshopify.com"      // client_credentials: the winery's Dev Dashboard app
	merchantShop = "merchant.myshopify.com"     // oauth: installs this deployment's app

	staticHookSecret = "static-app-webhook-secret"
	wineryAppID      = "winery-dev-dashboard-app"
	wineryAppSecret  = "winery-dev-dashboard-secret"
	deployAppID      = "tiersync-deployment-app"
	deployAppSecret  = "tiersync-deployment-secret"
)

// call sends a request to the replica's API with the token and decodes the JSON answer.
func (w *shopifyWorld) call(method, path, body string, want int) map[string]any {
	w.t.Helper()
	req, err := http.NewRequest(method, w.base+path, strings.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+w.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != want {
		w.t.Fatalf("%s %s: %d %v, want %d", method, path, resp.StatusCode, out, want)
	}
	return out
}

// control posts to the fake's control API.
func (w *shopifyWorld) control(path string, body any) {
	w.t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(w.fake+path, "application/json", bytes.NewReader(b))
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(resp.Body)
		w.t.Fatalf("fake %s: %d %s", path, resp.StatusCode, msg)
	}
}

// install plays the merchant: /shopify/install → the shop's authorize page (approved at
// once by the fake) → our callback.
func (w *shopifyWorld) install(shop string) {
	w.t.Helper()
	next := w.base + "/shopify/install?shop=" + shop
	for hop := 0; hop < 3; hop++ {
		resp, err := noRedirect.Get(next)
		if err != nil {
			w.t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if hop == 2 {
			if resp.StatusCode != 200 || !strings.Contains(string(body), "connected to "+shop) {
				w.t.Fatalf("callback: %d %s", resp.StatusCode, body)
			}
			return
		}
		if resp.StatusCode != http.StatusFound {
			w.t.Fatalf("install hop %d (%s): %d %s", hop, next, resp.StatusCode, body)
		}
		next = resp.Header.Get("Location")
	}
}

// signedOrder posts an orders/paid webhook for shop signed with secret and returns the status.
func (w *shopifyWorld) signedOrder(shop, secret string, id int, email string) int {
	w.t.Helper()
	body := fmt.Sprintf(`{"id":%d,"email":%q,"total_price":"80.00","currency":"USD","financial_status":"paid",
		"updated_at":"2026-11-30T10:00:00Z","customer":{"id":%d,"email":%q,"first_name":"Ord","last_name":"Er"}}`, id, email, 800000+id, email)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	req, _ := http.NewRequest("POST", w.base+"/webhooks/shopify", strings.NewReader(body))
	req.Header.Set("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	req.Header.Set("X-Shopify-Shop-Domain", shop)
	req.Header.Set("X-Shopify-Topic", "orders/paid")
	req.Header.Set("X-Shopify-Event-Id", fmt.Sprintf("ev-%d", id))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestShopifyThreeWaysToConnect: one shop connected by each way (a static token, the
// winery's own app by client credentials, this deployment's app installed through the
// redirect and callback), access tokens that expire every 2 s while 123 rows drain, webhooks
// signed per app, and one shop uninstalled mid-drain: its rows wait (none failed) while the
// others drain, and finish after the reinstall; then a customer redacted is in no table.
func TestShopifyThreeWaysToConnect(t *testing.T) {
	t.Parallel()
	const perShop = 40
	dbURL := dbtest.NewURL(t)
	listen := freeAddr(t)
	w := &shopifyWorld{t: t, token: "system-test-token-0123456789", base: "http://" + listen,
		clients: map[string]string{}, tiers: map[string]string{}}
	w.fake = startFake(t, []string{"fakecrm", "--listen", "127.0.0.1:0", "--c7-rate-limit", "-1",
		"--shopify-token-ttl", "2s", "--shopify-allow-http-webhooks"})
	w.control("/_fake/shopify/shops", map[string]string{"shop": staticShop, "token": "shpat_static_vines"})
	w.control("/_fake/shopify/apps", map[string]any{"client_id": wineryAppID, "client_secret": wineryAppSecret, "org": true})
	w.control("/_fake/shopify/installs", map[string]string{"shop": ownShop, "client_id": wineryAppID})
	w.control("/_fake/shopify/apps", map[string]any{"client_id": deployAppID, "client_secret": deployAppSecret})

	env := []string{
		"DATABASE_URL=" + dbURL, "TIERSYNC_API_TOKEN=" + w.token,
		"TIERSYNC_SECRET_KEY=" + "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU=",
		"SHOPIFY_API_URL=" + w.fake, "SHOPIFY_APP_CLIENT_ID=" + deployAppID, "SHOPIFY_APP_CLIENT_SECRET=" + deployAppSecret,
		"PUBLIC_URL=" + w.base, "LISTEN_ADDR=" + listen, "WORKERS=4", "POLL_INTERVAL=200ms", "LOG_LEVEL=warn",
		"SCHEDULE_EXPIRE=off", "SCHEDULE_SYNC=off", "SHUTDOWN_TIMEOUT=5s", "INLINE_SYNC_TIMEOUT=1ms",
	}
	// Registered before the replica starts, so it runs after the replica's own cleanup has
	// stopped it: its log is whole and no longer written to.
	t.Cleanup(func() {
		if t.Failed() && len(w.replicas) > 0 {
			t.Logf("replica log:\n%s", w.replicas[0].log.String())
		}
	})
	w.replicas = append(w.replicas, startReplica(t, env))
	ctx := context.Background()
	pool, err := db.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	waitReady(t, strings.TrimPrefix(w.base, "http://"), time.Minute)

	// Connect the three shops.
	for shop, body := range map[string]string{
		staticShop: `"shopify_auth":"token","shopify_access_token":"shpat_static_vines","shopify_webhook_secret":"` + staticHookSecret + `"`,
		ownShop:    `"shopify_auth":"client_credentials","shopify_client_id":"` + wineryAppID + `","shopify_client_secret":"` + wineryAppSecret + `"`,
	} {
		c := w.call("POST", "/api/clients", `{"name":"W","crm_type":"shopify","tenant":"`+shop+`",`+body+`}`, 201)
		w.clients[shop] = c["id"].(string)
		// Connecting subscribes the shop's webhooks at PUBLIC_URL.
		if hooks, _ := c["webhooks"].(map[string]any); hooks == nil || len(hooks["created"].([]any)) != 3 {
			t.Fatalf("%s: webhooks at creation %v, want orders/paid, orders/create, app/uninstalled", shop, c["webhooks"])
		}
	}
	w.install(merchantShop)
	if err := pool.QueryRow(ctx, `SELECT client_id FROM shopify_connections WHERE shop = $1`, merchantShop).Scan(new(string)); err != nil {
		t.Fatalf("the install made no client: %v", err)
	}
	var merchantID string
	_ = pool.QueryRow(ctx, `SELECT client_id FROM shopify_connections WHERE shop = $1`, merchantShop).Scan(&merchantID)
	w.clients[merchantShop] = merchantID
	for shop, id := range w.clients {
		// Far above Shopify's default (600 a minute) so the drain is short; the tokens
		// expire every 2 s all the same.
		rate := 1500
		if shop == merchantShop {
			rate = 120 // slow enough that the uninstall lands mid-drain however fast the others go
		}
		testfactory.SetRateLimit(t, pool, id, rate)
		w.tiers[shop] = w.call("POST", "/api/clients/"+id+"/tiers",
			`{"name":"Gold","rank":1,"duration_months":12,"min_purchase_cents":5000,"shopify_tag":"gold"}`, 201)["id"].(string)
	}

	// Webhooks are verified with each shop's own app secret.
	secrets := map[string]string{staticShop: staticHookSecret, ownShop: wineryAppSecret, merchantShop: deployAppSecret}
	orderID := 1
	for shop, secret := range secrets {
		for other, wrong := range secrets {
			if other == shop {
				continue
			}
			if status := w.signedOrder(shop, wrong, orderID, "forged@example.com"); status != 401 {
				t.Fatalf("%s signed with %s's secret: %d, want 401", shop, other, status)
			}
			orderID++
		}
		if status := w.signedOrder(shop, secret, orderID, "order-"+shop+"@example.com"); status != 200 {
			t.Fatalf("%s signed with its own secret: %d, want 200", shop, status)
		}
		orderID++
	}

	// Enroll perShop members per shop; the rows drain while tokens keep expiring.
	for shop := range w.clients {
		for i := range perShop {
			w.call("POST", "/api/enrollments", fmt.Sprintf(`{"client_id":%q,"tier_id":%q,"customer":{"email":"m%d@%s","first_name":"M","last_name":"%d"}}`,
				w.clients[shop], w.tiers[shop], i, shop, i), 201)
		}
	}
	status := func(shop string) (completed, pending, failed int) {
		t.Helper()
		err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status IN ('pending', 'processing')),
			count(*) FILTER (WHERE status = 'failed') FROM crm_sync_queue WHERE client_id = $1`, w.clients[shop]).Scan(&completed, &pending, &failed)
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	// The merchant uninstalls the app a few rows in: Shopify revokes its tokens and sends
	// app/uninstalled, signed with the app's secret.
	waitFor(t, 2*time.Minute, "the merchant's first rows", func() bool { c, _, _ := status(merchantShop); return c >= 5 })
	w.control("/_fake/shopify/uninstalls", map[string]string{"shop": merchantShop, "client_id": deployAppID, "webhook_url": w.base + "/webhooks/shopify"})
	var state string
	waitFor(t, time.Minute, "the uninstall recorded", func() bool {
		_ = pool.QueryRow(ctx, `SELECT state FROM shopify_connections WHERE shop = $1`, merchantShop).Scan(&state)
		return state == "uninstalled"
	})
	total := perShop + 1 // each shop's members, and the order webhook's customer
	for _, shop := range []string{staticShop, ownShop} {
		waitFor(t, 3*time.Minute, shop+" drained", func() bool { c, _, _ := status(shop); return c == total })
	}
	held, heldPending, heldFailed := status(merchantShop)
	if heldFailed != 0 || heldPending == 0 || held+heldPending != total {
		t.Fatalf("uninstalled shop: %d completed, %d pending, %d failed; want its rest pending, none failed", held, heldPending, heldFailed)
	}
	// Reinstalled: the same client, connected again; its rows finish (at the others' pace).
	testfactory.SetRateLimit(t, pool, w.clients[merchantShop], 1500)
	w.install(merchantShop)
	waitFor(t, 3*time.Minute, "the merchant drained after the reinstall", func() bool { c, _, _ := status(merchantShop); return c == total })
	var clients int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM clients`).Scan(&clients); err != nil || clients != 3 {
		t.Fatalf("%d clients after the reinstall, want 3 (%v)", clients, err)
	}
	for shop := range w.clients {
		if c, p, f := status(shop); c != total || p != 0 || f != 0 {
			t.Fatalf("%s: %d completed, %d pending, %d failed", shop, c, p, f)
		}
	}

	// At the fake: every member tagged once; tokens were renewed while the rows drained.
	for shop := range w.clients {
		resp, err := http.Get(w.fake + "/_fake/shopify/customers?shop=" + url.QueryEscape(shop))
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Customers []struct {
				Email string   `json:"email"`
				Tags  []string `json:"tags"`
			}
		}
		_ = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		gold := 0
		for _, c := range got.Customers {
			for _, tag := range c.Tags {
				if tag == "gold" {
					gold++
				}
			}
		}
		if gold != total || len(got.Customers) != total {
			t.Fatalf("%s: %d customers, %d tagged gold; want %d each (no duplicates)", shop, len(got.Customers), gold, total)
		}
	}
	resp, err := http.Get(w.fake + "/_fake/shopify/oauth/requests")
	if err != nil {
		t.Fatal(err)
	}
	var log struct {
		Requests []struct {
			Grant, Shop string
			Status      int
		}
	}
	_ = json.NewDecoder(resp.Body).Decode(&log)
	resp.Body.Close()
	per := map[string]int{}
	for _, g := range log.Requests {
		if g.Status == 200 {
			per[g.Shop+" "+g.Grant]++
		}
	}
	if per[ownShop+" client_credentials"] < 2 || per[merchantShop+" authorization_code"] != 2 || per[merchantShop+" refresh_token"] < 1 {
		t.Fatalf("token requests %v: want client credentials renewed, two installs and a refresh", per)
	}

	// The winery's own-app shop asks to redact one member (customers/redact, signed with its
	// app's secret): the email is then in no text or json column of any table, and the
	// shop's other members keep theirs.
	redacted, kept := "m7@"+ownShop, "m8@"+ownShop
	var gid string
	if err := pool.QueryRow(ctx, `SELECT crm_id FROM customers WHERE client_id = $1 AND email = $2`, w.clients[ownShop], redacted).Scan(&gid); err != nil {
		t.Fatal(err)
	}
	numeric := gid[strings.LastIndex(gid, "/")+1:]
	body := fmt.Sprintf(`{"shop_id":954889,"shop_domain":%q,"customer":{"id":%s,"email":%q,"phone":null},"orders_to_redact":[]}`,
		ownShop, numeric, redacted)
	mac := hmac.New(sha256.New, []byte(wineryAppSecret))
	mac.Write([]byte(body))
	req, _ := http.NewRequest("POST", w.base+"/webhooks/shopify", strings.NewReader(body))
	req.Header.Set("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	req.Header.Set("X-Shopify-Shop-Domain", ownShop)
	req.Header.Set("X-Shopify-Topic", "customers/redact")
	req.Header.Set("X-Shopify-Webhook-Id", "redact-1")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("customers/redact: %d", resp.StatusCode)
	}
	if where := foundIn(t, pool, redacted); where != "" {
		t.Fatalf("after the redact, %s is still in %s", redacted, where)
	}
	if foundIn(t, pool, kept) == "" {
		t.Fatalf("the redact took %s's data too", kept)
	}
	t.Logf("3 shops × %d rows completed, 0 failed; token requests %v; %s redacted from every table", total, per, redacted)
}

// foundIn says which table.column values contain needle in any case ("" for none): every
// text, varchar, json and jsonb column of every table, and bytea read as text.
func foundIn(t *testing.T, pool *pgxpool.Pool, needle string) string {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT c.table_name, c.column_name, c.data_type
		FROM information_schema.columns c
		JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
		  AND c.data_type IN ('text', 'character varying', 'character', 'jsonb', 'json', 'bytea', 'ARRAY')`)
	if err != nil {
		t.Fatal(err)
	}
	var cols [][3]string
	for rows.Next() {
		var c [3]string
		if err := rows.Scan(&c[0], &c[1], &c[2]); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	rows.Close()
	var found []string
	for _, c := range cols {
		expr := pgx.Identifier{c[1]}.Sanitize() + "::text"
		if c[2] == "bytea" {
			expr = "encode(" + pgx.Identifier{c[1]}.Sanitize() + ", 'escape')"
		}
		var n int
		q := "SELECT count(*) FROM " + pgx.Identifier{c[0]}.Sanitize() + " WHERE strpos(lower(" + expr + "), lower($1)) > 0"
		if err := pool.QueryRow(ctx, q, needle).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if n > 0 {
			found = append(found, fmt.Sprintf("%s.%s (%d)", c[0], c[1], n))
		}
	}
	return strings.Join(found, ", ")
}
