package api_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/api"
	"tiersync/internal/crm/commerce7"
	"tiersync/internal/crm/commerce7/c7test"
)

const (
	hookUser, hookPass = "c7hooks", "c7-hook-secret"
	shopSecret         = "shopify-app-secret"
	shop               = "vino.myshopify.com"
)

// hookWorld: a Commerce7 and a Shopify client, each with Gold (rank 1, an order of $50)
// and Platinum (rank 2, $200 lifetime), behind an API whose Commerce7 customer lookup
// reads a fake Commerce7.
type hookWorld struct {
	*harness
	fake                 *c7test.Fake
	c7, sh               string
	gold, plat, shopGold string
}

func newHookWorld(t *testing.T, hooks ...func(*api.Webhooks, *commerce7.Client)) *hookWorld {
	fake, url := c7test.Start(t, c7test.Options{AppID: "app", AppSecret: "key", RateLimit: -1})
	c7, err := commerce7.New(commerce7.Config{BaseURL: url, AppID: "app", Key: "key", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *api.Options, _ *pgxpool.Pool) {
		o.Webhooks = api.Webhooks{Commerce7User: hookUser, Commerce7Password: hookPass, Commerce7EchoUser: "tiersync-app",
			Commerce7Customers: c7}
		for _, f := range hooks {
			f(&o.Webhooks, c7)
		}
	})
	w := &hookWorld{harness: h, fake: fake}
	id := func(status int, body map[string]any) string {
		t.Helper()
		if status != 201 {
			t.Fatalf("setup: %d %v", status, body)
		}
		return body["id"].(string)
	}
	w.c7 = id(h.do("POST", "/api/clients", `{"name":"Napa","crm_type":"commerce7","tenant":"napa"}`))
	// The order tests authenticate with the global pair, so the client is one made before
	// per-client credentials; c7_credentials_test.go tests the client's own pair.
	h.makeLegacy(w.c7)
	w.gold = id(h.do("POST", "/api/clients/"+w.c7+"/tiers", `{"name":"Gold","rank":1,"duration_months":12,"min_purchase_cents":5000,"c7_club_id":"c1ab0000-0000-4000-8000-000000000001"}`))
	w.plat = id(h.do("POST", "/api/clients/"+w.c7+"/tiers", `{"name":"Platinum","rank":2,"duration_months":12,"min_ltv_cents":20000,"c7_club_id":"c1ab0000-0000-4000-8000-000000000002"}`))
	w.sh = id(h.do("POST", "/api/clients", `{"name":"Vino","crm_type":"shopify","tenant":"`+shop+`","shopify_access_token":"shpat_x","shopify_webhook_secret":"`+shopSecret+`"}`))
	w.shopGold = id(h.do("POST", "/api/clients/"+w.sh+"/tiers", `{"name":"Gold","rank":1,"duration_months":12,"min_purchase_cents":5000,"shopify_tag":"gold"}`))
	return w
}

func (w *hookWorld) post(path, body string, headers map[string]string) (int, map[string]any) {
	w.t.Helper()
	return w.doWith("POST", path, body, headers)
}

func c7Auth() map[string]string {
	return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(hookUser+":"+hookPass))}
}

// c7Order is a Commerce7 order webhook body.
func c7Order(id, action, total, paid, updated, customer string) string {
	if paid != "" {
		paid = `"orderPaidDate":"` + paid + `",`
	}
	return fmt.Sprintf(`{"object":"Order","action":%q,"tenantId":"napa","user":"Winery Staff","payload":{"id":%q,%s"total":%s,"updatedAt":%q,%s}}`,
		action, id, paid, total, updated, customer)
}

const ada = `"customerId":"c7-ada","customer":{"email":"ada@example.com","firstName":"Ada","lastName":"Lovelace"}`

func shopifyHeaders(body, topic, event string) map[string]string {
	mac := hmac.New(sha256.New, []byte(shopSecret))
	mac.Write([]byte(body))
	return map[string]string{"X-Shopify-Hmac-Sha256": base64.StdEncoding.EncodeToString(mac.Sum(nil)),
		"X-Shopify-Shop-Domain": shop, "X-Shopify-Topic": topic, "X-Shopify-Event-Id": event}
}

func (w *hookWorld) rows() string {
	return fmt.Sprintf("events=%d orders=%d customers=%d enrollments=%d queue=%d", w.count("webhook_events"), w.count("orders"),
		w.count("customers"), w.count("enrollments"), w.count("crm_sync_queue"))
}

// membership describes the customer's enrollments (tier name:status, oldest first), its
// lifetime value and queue rows.
func (w *hookWorld) membership(email string) string {
	w.t.Helper()
	var out string
	err := w.pool.QueryRow(context.Background(), `
		SELECT coalesce(string_agg(t.name || ':' || e.status, ',' ORDER BY e.created_at), '') || ' ltv=' || cu.lifetime_value_cents ||
		       ' queue=' || coalesce((SELECT string_agg(q.action_type, ',' ORDER BY q.id) FROM crm_sync_queue q WHERE q.customer_id = cu.id), '')
		FROM customers cu LEFT JOIN enrollments e ON e.customer_id = cu.id LEFT JOIN tiers t ON t.id = e.tier_id
		WHERE cu.email = $1 GROUP BY cu.id`, email).Scan(&out)
	if err != nil {
		w.t.Fatalf("membership of %s: %v", email, err)
	}
	return out
}

func TestWebhookRejections(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t)
	good := c7Order("o1", "Create", "6000", "2026-11-20T10:00:00Z", "u1", ada)
	shopBody := `{"id":1001,"email":"bo@example.com","total_price":"60.00","currency":"USD","financial_status":"paid"}`
	badSig := shopifyHeaders(shopBody, "orders/paid", "e1")
	badSig["X-Shopify-Hmac-Sha256"] = base64.StdEncoding.EncodeToString([]byte("not the signature"))
	noSig := shopifyHeaders(shopBody, "orders/paid", "e1")
	delete(noSig, "X-Shopify-Hmac-Sha256")
	unknownShop := shopifyHeaders(shopBody, "orders/paid", "e1")
	unknownShop["X-Shopify-Shop-Domain"] = "other.myshopify.com"
	noEvent := shopifyHeaders(shopBody, "orders/paid", "")
	delete(noEvent, "X-Shopify-Event-Id")
	negative := `{"id":1002,"email":"bo@example.com","total_price":"-5.00","financial_status":"paid"}`
	letters := `{"id":1003,"email":"bo@example.com","total_price":"abc","financial_status":"paid"}`
	cases := []struct {
		name    string
		path    string
		body    string
		headers map[string]string
		status  int
		answer  string // the error, or the webhook status
	}{
		{"c7 without auth", "/webhooks/commerce7", good, nil, 401, "Basic auth"},
		{"c7 wrong password", "/webhooks/commerce7", good, map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(hookUser+":nope"))}, 401, "Basic auth"},
		{"c7 malformed JSON", "/webhooks/commerce7", `{"object":`, c7Auth(), 400, "malformed JSON"},
		{"c7 no tenant", "/webhooks/commerce7", `{"object":"Order","payload":{}}`, c7Auth(), 400, "tenantId is required"},
		{"c7 unknown tenant", "/webhooks/commerce7", strings.Replace(good, `"napa"`, `"sonoma"`, 1), c7Auth(), 404, "no commerce7 client"},
		{"c7 shop domain as tenant", "/webhooks/commerce7", strings.Replace(good, `"napa"`, `"`+shop+`"`, 1), c7Auth(), 404, "no commerce7 client"},
		{"c7 no order id", "/webhooks/commerce7", c7Order("", "Create", "6000", "", "u", ada), c7Auth(), 400, "payload.id is required"},
		{"c7 no total", "/webhooks/commerce7", strings.Replace(good, `"total":6000,`, ``, 1), c7Auth(), 400, "payload.total is required"},
		{"c7 negative total", "/webhooks/commerce7", c7Order("o1", "Create", "-100", "", "u", ada), c7Auth(), 400, "non-negative integer"},
		{"c7 fractional total", "/webhooks/commerce7", c7Order("o1", "Create", "60.5", "", "u", ada), c7Auth(), 400, "non-negative integer"},
		{"c7 string total", "/webhooks/commerce7", c7Order("o1", "Create", `"6000"`, "", "u", ada), c7Auth(), 400, "non-negative integer"},
		{"c7 bad paid date", "/webhooks/commerce7", c7Order("o1", "Create", "6000", "yesterday", "u", ada), c7Auth(), 400, "orderPaidDate"},
		{"c7 bad email", "/webhooks/commerce7", c7Order("o1", "Create", "6000", "2026-11-20T10:00:00Z", "u", `"customer":{"email":"nope"}`), c7Auth(), 400, "not an email"},
		{"c7 not an Order", "/webhooks/commerce7", strings.Replace(good, `"Order"`, `"Customer"`, 1), c7Auth(), 200, "ignored"},
		{"c7 our own echo", "/webhooks/commerce7", strings.Replace(good, `"Winery Staff"`, `"tiersync-app"`, 1), c7Auth(), 200, "ignored"},
		{"shopify no signature", "/webhooks/shopify", shopBody, noSig, 401, "X-Shopify-Hmac-Sha256"},
		{"shopify wrong signature", "/webhooks/shopify", shopBody, badSig, 401, "X-Shopify-Hmac-Sha256"},
		{"shopify signature of another body", "/webhooks/shopify", negative, shopifyHeaders(shopBody, "orders/paid", "e1"), 401, "X-Shopify-Hmac-Sha256"},
		{"shopify unknown shop", "/webhooks/shopify", shopBody, unknownShop, 404, "no shopify client"},
		{"shopify no event id", "/webhooks/shopify", shopBody, noEvent, 400, "X-Shopify-Event-Id"},
		{"shopify malformed JSON", "/webhooks/shopify", `{"id":`, shopifyHeaders(`{"id":`, "orders/paid", "e1"), 400, "malformed JSON"},
		{"shopify negative total", "/webhooks/shopify", negative, shopifyHeaders(negative, "orders/paid", "e1"), 400, "total_price"},
		{"shopify non-numeric total", "/webhooks/shopify", letters, shopifyHeaders(letters, "orders/paid", "e1"), 400, "total_price"},
		{"shopify another topic", "/webhooks/shopify", shopBody, shopifyHeaders(shopBody, "customers/update", "e1"), 200, "ignored"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := w.post(c.path, c.body, c.headers)
			got := fmt.Sprint(body["error"])
			if status == 200 {
				got = fmt.Sprint(body["status"])
			}
			if status != c.status || !strings.Contains(got, c.answer) {
				t.Fatalf("%d %v, want %d with %q", status, body, c.status, c.answer)
			}
			if rows := w.rows(); rows != "events=0 orders=0 customers=0 enrollments=0 queue=0" {
				t.Fatalf("wrote %s", rows)
			}
		})
	}
}

func TestCommerce7Orders(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t)
	steps := []struct {
		name   string
		body   string
		answer string
		want   string
	}{
		{"an unpaid order is recorded and changes nothing", c7Order("o1", "Create", "6000", "", "u1", ada), "ignored", ""},
		{"paid: qualifies for Gold by purchase", c7Order("o1", "Update", "6000", "2026-11-20T10:00:00Z", "u2", ada), "accepted",
			"Gold:active ltv=6000 queue=add_membership"},
		{"the same delivery again", c7Order("o1", "Update", "6000", "2026-11-20T10:00:00Z", "u2", ada), "duplicate",
			"Gold:active ltv=6000 queue=add_membership"},
		{"an update of the same order is not counted twice", c7Order("o1", "Update", "6500", "2026-11-20T10:00:00Z", "u3", ada), "accepted",
			"Gold:active ltv=6500 queue=add_membership"},
		{"a small order qualifies for nothing", c7Order("o2", "Create", "1000", "2026-11-21T10:00:00Z", "u1", ada), "accepted",
			"Gold:active ltv=7500 queue=add_membership"},
		{"lifetime value reaches Platinum: an upgrade", c7Order("o3", "Create", "12500", "2026-11-22T10:00:00Z", "u1", ada), "accepted",
			"Gold:upgraded,Platinum:active ltv=20000 queue=add_membership,upgrade_membership"},
		{"lifetime value still reaches Platinum: a renewal", c7Order("o4", "Create", "5000", "2026-11-23T10:00:00Z", "u1", ada), "accepted",
			"Gold:upgraded,Platinum:active ltv=25000 queue=add_membership,upgrade_membership"},
	}
	for _, s := range steps {
		status, body := w.post("/webhooks/commerce7", s.body, c7Auth())
		if status != 200 || body["status"] != s.answer {
			t.Fatalf("%s: %d %v, want %s", s.name, status, body, s.answer)
		}
		if s.want != "" {
			if got := w.membership("ada@example.com"); got != s.want {
				t.Fatalf("%s: %s, want %s", s.name, got, s.want)
			}
		}
	}
	// The upgrade row names the old tier; the Platinum enrollment came from order o3, and
	// o4 renewed it to 12 months from its own payment.
	var oldTier, qualifying string
	var expires time.Time
	err := w.pool.QueryRow(context.Background(), `
		SELECT q.old_tier_id, o.crm_order_id, e.expires_at
		FROM crm_sync_queue q JOIN enrollments e ON e.id = q.enrollment_id JOIN orders o ON o.id = e.qualifying_order_id
		WHERE q.action_type = 'upgrade_membership'`).Scan(&oldTier, &qualifying, &expires)
	if err != nil || oldTier != w.gold || qualifying != "o3" || !expires.Equal(time.Date(2027, 11, 23, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("upgrade row: old tier %s (gold %s), order %s, expires %v (%v)", oldTier, w.gold, qualifying, expires, err)
	}
	// A Platinum-sized order renews: expires_at moves to its payment + 12 months; no CRM call.
	status, body := w.post("/webhooks/commerce7", c7Order("o5", "Create", "30000", "2026-12-01T00:00:00Z", "u1", ada), c7Auth())
	if status != 200 || body["status"] != "accepted" {
		t.Fatalf("renewal: %d %v", status, body)
	}
	if err := w.pool.QueryRow(context.Background(), `SELECT expires_at FROM enrollments WHERE status = 'active'`).Scan(&expires); err != nil ||
		!expires.Equal(time.Date(2027, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("renewed to %v (%v)", expires, err)
	}
	if got := w.membership("ada@example.com"); !strings.HasSuffix(got, "queue=add_membership,upgrade_membership") {
		t.Fatalf("a renewal queued a CRM change: %s", got)
	}
	var events string
	_ = w.pool.QueryRow(context.Background(), `SELECT string_agg(event, ',' ORDER BY id) FROM enrollment_events`).Scan(&events)
	if events != "enrolled,upgraded,renewed,renewed" {
		t.Fatalf("events %s", events)
	}
}

// TestCommerce7OrderWithoutEmail: the payload names a customer tiersync does not know and
// has no email: it is read from Commerce7.
func TestCommerce7OrderWithoutEmail(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t)
	c := w.fake.AddCustomer("napa", c7test.Customer{FirstName: "Cy", LastName: "Young", Emails: []string{"cy@example.com"}})
	status, body := w.post("/webhooks/commerce7", c7Order("o9", "Create", "6000", "2026-11-20T10:00:00Z", "u", `"customerId":"`+c.ID+`"`), c7Auth())
	if status != 200 || body["status"] != "accepted" {
		t.Fatalf("%d %v", status, body)
	}
	if got := w.membership("cy@example.com"); got != "Gold:active ltv=6000 queue=add_membership" {
		t.Fatalf("%s", got)
	}
	var crmID string
	if err := w.pool.QueryRow(context.Background(), `SELECT crm_id FROM customers WHERE email = 'cy@example.com'`).Scan(&crmID); err != nil || crmID != c.ID {
		t.Fatalf("crm_id %q (%v)", crmID, err)
	}
	// Commerce7 down: the webhook fails (Commerce7 retries it) and nothing is written.
	w.fake.Inject(c7test.Fault{Kind: c7test.FaultStatus, Status: 503})
	status, _ = w.post("/webhooks/commerce7", c7Order("o10", "Create", "6000", "2026-11-20T10:00:00Z", "u", `"customerId":"c7-unknown"`), c7Auth())
	if status != 502 || w.count("orders") != 1 || w.count("webhook_events") != 1 {
		t.Fatalf("lookup failure: %d, rows %s", status, w.rows())
	}
}

// TestCommerce7CustomerSources: who reads an unknown customer from Commerce7. Without a
// source the webhook fails (502) and writes nothing; the deprecated function form still
// serves until the composition root sets the interface.
func TestCommerce7CustomerSources(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		hooks  func(*api.Webhooks, *commerce7.Client)
		status int
		answer string // the error, or the webhook status
		rows   string
	}{
		{"no source", func(h *api.Webhooks, _ *commerce7.Client) { h.Commerce7Customers = nil }, 502, "cannot be read from Commerce7",
			"events=0 orders=0 customers=0 enrollments=0 queue=0"},
		{"the Commerce7 client", func(h *api.Webhooks, c7 *commerce7.Client) { h.Commerce7Customers = c7 },
			200, "accepted", "events=1 orders=1 customers=1 enrollments=1 queue=1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newHookWorld(t, c.hooks)
			cy := w.fake.AddCustomer("napa", c7test.Customer{FirstName: "Cy", LastName: "Young", Emails: []string{"cy@example.com"}})
			status, body := w.post("/webhooks/commerce7", c7Order("o9", "Create", "6000", "2026-11-20T10:00:00Z", "u", `"customerId":"`+cy.ID+`"`), c7Auth())
			got := fmt.Sprint(body["error"])
			if status == 200 {
				got = fmt.Sprint(body["status"])
			}
			if status != c.status || !strings.Contains(got, c.answer) {
				t.Fatalf("%d %v, want %d with %q", status, body, c.status, c.answer)
			}
			if rows := w.rows(); rows != c.rows {
				t.Fatalf("rows %s, want %s", rows, c.rows)
			}
		})
	}
}

func TestShopifyOrders(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t)
	created := `{"id":5001,"email":"bo@example.com","total_price":"60.00","currency":"USD","financial_status":"pending",
		"customer":{"id":7001,"email":"bo@example.com","first_name":"Bo","last_name":"Smith"}}`
	paid := strings.Replace(created, `"pending"`, `"paid"`, 1)
	for _, s := range []struct{ body, topic, event, answer string }{
		{created, "orders/create", "ev-1", "ignored"},
		{paid, "orders/paid", "ev-2", "accepted"},
		{paid, "orders/paid", "ev-2", "duplicate"},
	} {
		status, body := w.post("/webhooks/shopify", s.body, shopifyHeaders(s.body, s.topic, s.event))
		if status != 200 || body["status"] != s.answer {
			t.Fatalf("%s %s: %d %v, want %s", s.topic, s.event, status, body, s.answer)
		}
	}
	if got := w.membership("bo@example.com"); got != "Gold:active ltv=6000 queue=add_membership" {
		t.Fatalf("%s", got)
	}
	var crmID string
	if err := w.pool.QueryRow(context.Background(), `SELECT crm_id FROM customers WHERE email = 'bo@example.com'`).Scan(&crmID); err != nil ||
		crmID != "gid://shopify/Customer/7001" {
		t.Fatalf("crm_id %q (%v): the GraphQL id the provider uses", crmID, err)
	}
	// The Webhook-Id header stands in when there is no Event-Id. The same body under it is
	// still a duplicate (one order version); a new version of the order is not, and is
	// not counted twice either.
	h := shopifyHeaders(paid, "orders/paid", "")
	delete(h, "X-Shopify-Event-Id")
	h["X-Shopify-Webhook-Id"] = "wh-1"
	if status, body := w.post("/webhooks/shopify", paid, h); status != 200 || body["status"] != "duplicate" {
		t.Fatalf("webhook id, same body: %d %v", status, body)
	}
	updated := strings.Replace(paid, `"currency"`, `"updated_at":"2026-11-20T11:00:00Z","currency"`, 1)
	h = shopifyHeaders(updated, "orders/paid", "")
	delete(h, "X-Shopify-Event-Id")
	h["X-Shopify-Webhook-Id"] = "wh-2"
	if status, body := w.post("/webhooks/shopify", updated, h); status != 200 || body["status"] != "accepted" {
		t.Fatalf("webhook id: %d %v", status, body)
	}
	if got := w.membership("bo@example.com"); got != "Gold:active ltv=6000 queue=add_membership" {
		t.Fatalf("the same order again changed: %s", got)
	}

	// Lifetime value reaches Platinum (an upgrade), then another Platinum order renews it.
	status, body := w.do("POST", "/api/clients/"+w.sh+"/tiers", `{"name":"Platinum","rank":2,"duration_months":6,"min_ltv_cents":15000,"shopify_tag":"platinum"}`)
	if status != 201 {
		t.Fatalf("tier: %d %v", status, body)
	}
	for i, want := range []string{
		"Gold:upgraded,Platinum:active ltv=16000 queue=add_membership,upgrade_membership",
		"Gold:upgraded,Platinum:active ltv=26000 queue=add_membership,upgrade_membership",
	} {
		order := fmt.Sprintf(`{"id":%d,"total_price":"100","financial_status":"paid","processed_at":"2026-11-2%dT00:00:00Z",
			"customer":{"id":7001,"admin_graphql_api_id":"gid://shopify/Customer/7001"}}`, 5002+i, 2+i)
		if status, body := w.post("/webhooks/shopify", order, shopifyHeaders(order, "orders/paid", fmt.Sprintf("ev-%d", 3+i))); status != 200 || body["status"] != "accepted" {
			t.Fatalf("order %d: %d %v", i, status, body)
		}
		if got := w.membership("bo@example.com"); got != want {
			t.Fatalf("order %d: %s, want %s", i, got, want)
		}
	}
	var expires time.Time
	if err := w.pool.QueryRow(context.Background(), `SELECT expires_at FROM enrollments WHERE status = 'active'`).Scan(&expires); err != nil ||
		!expires.Equal(time.Date(2027, 5, 23, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("renewed to %v (%v), want the second order's date + 6 months", expires, err)
	}
}

// TestSameWebhookInParallel: five simultaneous deliveries of one webhook make one
// enrollment and one queue row.
func TestSameWebhookInParallel(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t)
	body := c7Order("o1", "Create", "6000", "2026-11-20T10:00:00Z", "u1", ada)
	var wg sync.WaitGroup
	answers := make(chan string, 5)
	start := make(chan struct{})
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest("POST", w.url+"/webhooks/commerce7", strings.NewReader(body))
			for k, v := range c7Auth() {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				answers <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			answers <- fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
		}()
	}
	close(start)
	wg.Wait()
	close(answers)
	counts := map[string]int{}
	for a := range answers {
		counts[a]++
	}
	if counts[`200 {"status":"accepted"}`] != 1 || counts[`200 {"status":"duplicate"}`] != 4 {
		t.Fatalf("answers %v", counts)
	}
	if got := w.rows(); got != "events=1 orders=1 customers=1 enrollments=1 queue=1" {
		t.Fatalf("rows %s", got)
	}
}

// TestAnOrderForALowerTierChangesNothing: a Platinum member (enrolled through the API)
// whose order only reaches Gold keeps Platinum, unrenewed.
func TestAnOrderForALowerTierChangesNothing(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t)
	status, body := w.do("POST", "/api/enrollments", `{"client_id":"`+w.c7+`","tier_id":"`+w.plat+`",
		"customer":{"email":"ada@example.com","first_name":"Ada","last_name":"Lovelace","crm_id":"c7-ada"}}`)
	if status != 201 {
		t.Fatalf("%d %v", status, body)
	}
	expires := body["enrollment"].(map[string]any)["expires_at"]
	if status, body := w.post("/webhooks/commerce7", c7Order("o1", "Create", "6000", "2026-11-20T10:00:00Z", "u", ada), c7Auth()); status != 200 || body["status"] != "accepted" {
		t.Fatalf("%d %v", status, body)
	}
	if got := w.membership("ada@example.com"); got != "Platinum:active ltv=6000 queue=add_membership" {
		t.Fatalf("%s", got)
	}
	_, again := w.do("GET", "/api/enrollments/"+body["enrollment"].(map[string]any)["id"].(string), "")
	if again["enrollment"].(map[string]any)["expires_at"] != expires {
		t.Fatalf("renewed by a lower tier's order: %v", again)
	}
}
