package api_test

// Issue 16, "Hardening": what an outside review showed the webhooks and the API trusted
// or let through to the database.

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/api"
)

// shopifyBody is a Shopify orders/* body; updated is its updated_at ("" leaves it out).
func shopifyBody(id int, status, total, updated string) string {
	if updated != "" {
		updated = fmt.Sprintf(`"updated_at":%q,`, updated)
	}
	return fmt.Sprintf(`{"id":%d,%s"email":"bo@example.com","total_price":%q,"currency":"USD","financial_status":%q,
		"processed_at":"2026-11-20T10:00:00Z","customer":{"id":7001,"email":"bo@example.com","first_name":"Bo","last_name":"Smith"}}`,
		id, updated, total, status)
}

// TestShopifyHeadersAreNotTrusted: the signature covers the body only, so neither the
// topic, nor the event id, nor the shop domain header may decide anything on its own.
func TestShopifyHeadersAreNotTrusted(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t)
	// A second winery on the same app, so with the same webhook secret (as every shop that
	// installed this deployment's app: shopify_auth oauth).
	status, body := w.do("POST", "/api/clients", `{"name":"Other","crm_type":"shopify","tenant":"other.myshopify.com","shopify_access_token":"shpat_y","shopify_webhook_secret":"`+shopSecret+`"}`)
	if status != 201 {
		t.Fatalf("setup: %d %v", status, body)
	}
	other := body["id"].(string)
	if status, body := w.do("POST", "/api/clients/"+other+"/tiers", `{"name":"Gold","rank":1,"duration_months":12,"min_purchase_cents":5000,"shopify_tag":"gold"}`); status != 201 {
		t.Fatalf("setup: %d %v", status, body)
	}
	atOther := func() string {
		var customers, enrollments, events, orders int
		err := w.pool.QueryRow(context.Background(), `SELECT
			(SELECT count(*) FROM customers WHERE client_id = $1), (SELECT count(*) FROM enrollments WHERE client_id = $1),
			(SELECT count(*) FROM webhook_events WHERE client_id = $1), (SELECT count(*) FROM orders WHERE client_id = $1)`, other).
			Scan(&customers, &enrollments, &events, &orders)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("customers=%d enrollments=%d events=%d orders=%d", customers, enrollments, events, orders)
	}

	pending := shopifyBody(6001, "pending", "60.00", "2026-11-20T10:00:00Z")
	paid := shopifyBody(6001, "paid", "60.00", "2026-11-20T10:05:00Z")
	paidLater := shopifyBody(6001, "paid", "70.00", "2026-11-21T09:00:00Z")
	noVersion := shopifyBody(6002, "paid", "60.00", "")
	toOther := func(body, event string) map[string]string {
		h := shopifyHeaders(body, "orders/paid", event)
		h["X-Shopify-Shop-Domain"] = "other.myshopify.com"
		return h
	}
	steps := []struct {
		name    string
		body    string
		headers map[string]string
		status  int
		answer  string
		rows    string // hookWorld.rows after the step
		member  string // bo@example.com's membership at the first shop, when checked
	}{
		{"an unpaid order sent as orders/paid is not paid", pending, shopifyHeaders(pending, "orders/paid", "ev-1"), 200, "ignored",
			"events=1 orders=0 customers=0 enrollments=0 queue=0", ""},
		{"financial_status paid is paid", paid, shopifyHeaders(paid, "orders/paid", "ev-2"), 200, "accepted",
			"events=2 orders=1 customers=1 enrollments=1 queue=1", "Gold:active ltv=6000 queue=add_membership"},
		{"the same order version under a new event id is a duplicate", paid, shopifyHeaders(paid, "orders/paid", "ev-3"), 200, "duplicate",
			"events=2 orders=1 customers=1 enrollments=1 queue=1", "Gold:active ltv=6000 queue=add_membership"},
		{"and under another topic too", paid, shopifyHeaders(paid, "orders/create", "ev-4"), 200, "duplicate",
			"events=2 orders=1 customers=1 enrollments=1 queue=1", ""},
		{"the same signed body for another shop enrolls nobody there", paid, toOther(paid, "ev-5"), 409, "another shop",
			"events=2 orders=1 customers=1 enrollments=1 queue=1", ""},
		{"an unpaid version for another shop neither", pending, toOther(pending, "ev-6"), 409, "another shop",
			"events=2 orders=1 customers=1 enrollments=1 queue=1", ""},
		{"a new version of the order is processed, counted once", paidLater, shopifyHeaders(paidLater, "orders/paid", "ev-7"), 200, "accepted",
			"events=3 orders=1 customers=1 enrollments=1 queue=1", "Gold:active ltv=7000 queue=add_membership"},
		{"a body without updated_at: its bytes are the version", noVersion, shopifyHeaders(noVersion, "orders/paid", "ev-8"), 200, "accepted",
			"events=4 orders=2 customers=1 enrollments=1 queue=1", "Gold:active ltv=13000 queue=add_membership"},
		{"replayed under a new event id", noVersion, shopifyHeaders(noVersion, "orders/paid", "ev-9"), 200, "duplicate",
			"events=4 orders=2 customers=1 enrollments=1 queue=1", "Gold:active ltv=13000 queue=add_membership"},
	}
	for _, s := range steps {
		status, body := w.post("/webhooks/shopify", s.body, s.headers)
		got := fmt.Sprint(body["error"])
		if status == 200 {
			got = fmt.Sprint(body["status"])
		}
		if status != s.status || !strings.Contains(got, s.answer) {
			t.Fatalf("%s: %d %v, want %d %q", s.name, status, body, s.status, s.answer)
		}
		if rows := w.rows(); rows != s.rows {
			t.Fatalf("%s: rows %s, want %s", s.name, rows, s.rows)
		}
		if s.member != "" {
			if got := w.membership("bo@example.com"); got != s.member {
				t.Fatalf("%s: %s, want %s", s.name, got, s.member)
			}
		}
		if got := atOther(); got != "customers=0 enrollments=0 events=0 orders=0" {
			t.Fatalf("%s: wrote at the other winery: %s", s.name, got)
		}
	}

	// The other shop's own orders are its own.
	own := shopifyBody(7001, "paid", "60.00", "2026-11-22T10:00:00Z")
	if status, body := w.post("/webhooks/shopify", own, toOther(own, "ev-10")); status != 200 || body["status"] != "accepted" {
		t.Fatalf("the other shop's order: %d %v", status, body)
	}
	if got := atOther(); got != "customers=1 enrollments=1 events=1 orders=1" {
		t.Fatalf("the other shop's order wrote %s", got)
	}
}

// TestShopifyPaidStatuses: only financial_status "paid" is paid; every other status is
// recorded (a redelivery is a duplicate) and changes nothing, whatever the topic says.
func TestShopifyPaidStatuses(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t)
	for i, status := range []string{"pending", "authorized", "partially_paid", "partially_refunded", "refunded", "voided", "", "PAID"} {
		body := shopifyBody(8000+i, status, "60.00", "2026-11-20T10:00:00Z")
		code, answer := w.post("/webhooks/shopify", body, shopifyHeaders(body, "orders/paid", fmt.Sprintf("ev-%d", i)))
		if code != 200 || answer["status"] != "ignored" {
			t.Fatalf("financial_status %q: %d %v, want ignored", status, code, answer)
		}
	}
	if got := w.rows(); got != "events=8 orders=0 customers=0 enrollments=0 queue=0" {
		t.Fatalf("rows %s", got)
	}
}

// TestCommerce7WebhookAuth: an empty password never opens the Commerce7 endpoint, even
// when the configured one is empty; the right pair still does.
func TestCommerce7WebhookAuth(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name           string
		wantUser, want string // configured
		user, pass     string // sent
		status         int
	}{
		{"empty password configured, empty sent", "c7hooks", "", "c7hooks", "", 401},
		{"nothing configured, nothing sent", "", "", "", "", 401},
		{"right user, empty password", "c7hooks", "secret-pass", "c7hooks", "", 401},
		{"right password, wrong user", "c7hooks", "secret-pass", "c7hookz", "secret-pass", 401},
		{"a prefix of the password", "c7hooks", "secret-pass", "c7hooks", "secret", 401},
		{"the password and more", "c7hooks", "secret-pass", "c7hooks", "secret-pass!", 401},
		{"the right pair", "c7hooks", "secret-pass", "c7hooks", "secret-pass", 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, func(o *api.Options, _ *pgxpool.Pool) {
				o.Webhooks = api.Webhooks{Commerce7User: c.wantUser, Commerce7Password: c.want}
			})
			status, client := h.do("POST", "/api/clients", `{"name":"Napa","crm_type":"commerce7","tenant":"napa"}`)
			if status != 201 {
				t.Fatalf("setup: %d %v", status, client)
			}
			h.makeLegacy(client["id"].(string)) // the global pair serves only legacy clients
			auth := map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(c.user+":"+c.pass))}
			status, body := h.doWith("POST", "/webhooks/commerce7", c7Order("o1", "Create", "6000", "2026-11-20T10:00:00Z", "u1", ada), auth)
			if status != c.status {
				t.Fatalf("%d %v, want %d", status, body, c.status)
			}
			wantEvents := 0
			if c.status == 200 {
				wantEvents = 1
			}
			if n := h.count("webhook_events"); n != wantEvents {
				t.Fatalf("%d webhook events written, want %d", n, wantEvents)
			}
		})
	}
}

// TestWebhookBadText: text PostgreSQL cannot hold, ids no CRM makes and totals over the
// cap are 400s with a JSON error, never 500s, and write nothing.
func TestWebhookBadText(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t)
	c7 := func(payload string) string {
		return `{"object":"Order","action":"Create","tenantId":"napa","user":"Staff","payload":` + payload + `}`
	}
	paid := `"orderPaidDate":"2026-11-20T10:00:00Z","updatedAt":"u1"`
	long := strings.Repeat("x", 3000)
	shop := func(body, event string) (string, string, map[string]string) {
		return "/webhooks/shopify", body, shopifyHeaders(body, "orders/paid", event)
	}
	type req struct {
		path, body string
		headers    map[string]string
	}
	r := func(path, body string, headers map[string]string) req { return req{path, body, headers} }
	cases := []struct {
		name string
		req  req
		msg  string
	}{
		{"c7 NUL escape in a field", r("/webhooks/commerce7", c7(`{"id":"o1","total":6000,`+paid+`,"note":"a\u0000b",`+ada+`}`), c7Auth()), "NUL"},
		{"c7 NUL escape in a name", r("/webhooks/commerce7", c7(`{"id":"o1","total":6000,`+paid+`,"customerId":"c1","customer":{"email":"a@b.co","firstName":"A\u0000"}}`), c7Auth()), "NUL"},
		{"c7 invalid UTF-8", r("/webhooks/commerce7", c7(`{"id":"o1","total":6000,`+paid+`,"note":"caf`+"\xe9"+`",`+ada+`}`), c7Auth()), "UTF-8"},
		{"c7 lone surrogate", r("/webhooks/commerce7", c7(`{"id":"o1","total":6000,`+paid+`,"note":"\ud800",`+ada+`}`), c7Auth()), "surrogate"},
		{"c7 number beyond numeric", r("/webhooks/commerce7", c7(`{"id":"o1","total":6000,`+paid+`,"weight":1e1000000,`+ada+`}`), c7Auth()), "out of range"},
		{"c7 total over the cap", r("/webhooks/commerce7", c7(`{"id":"o1","total":10000000001,`+paid+`,`+ada+`}`), c7Auth()), "more than 10000000000 cents"},
		{"c7 total beyond int64", r("/webhooks/commerce7", c7(`{"id":"o1","total":99999999999999999999,`+paid+`,`+ada+`}`), c7Auth()), "more than"},
		{"c7 order id too long", r("/webhooks/commerce7", c7(`{"id":"`+long+`","total":6000,`+paid+`,`+ada+`}`), c7Auth()), "order id"},
		{"c7 order id with a slash", r("/webhooks/commerce7", c7(`{"id":"../o1","total":6000,`+paid+`,`+ada+`}`), c7Auth()), "not a CRM id"},
		{"c7 customer id ..", r("/webhooks/commerce7", c7(`{"id":"o1","total":6000,`+paid+`,"customerId":".."}`), c7Auth()), "not a CRM id"},
		{"c7 customer id a path", r("/webhooks/commerce7", c7(`{"id":"o1","total":6000,`+paid+`,"customerId":"x/../../club-membership"}`), c7Auth()), "not a CRM id"},
		{"c7 paid in the future", r("/webhooks/commerce7", c7(`{"id":"o1","total":6000,"orderPaidDate":"9999-12-31T00:00:00Z","updatedAt":"u1",`+ada+`}`), c7Auth()), "in the future"},
		{"c7 updatedAt too long", r("/webhooks/commerce7", c7(`{"id":"o1","total":6000,"orderPaidDate":"2026-11-20T10:00:00Z","updatedAt":"`+long+`",`+ada+`}`), c7Auth()), "updatedAt"},
		{"c7 action too long", r("/webhooks/commerce7", strings.Replace(c7(`{"id":"o1","total":6000,`+paid+`,`+ada+`}`), `"Create"`, `"`+long+`"`, 1), c7Auth()), "action"},
		{"c7 tenant invalid UTF-8", r("/webhooks/commerce7", strings.Replace(c7(`{"id":"o1","total":6000,`+paid+`,`+ada+`}`), `"napa"`, "\"nap\xe9\"", 1), c7Auth()), "UTF-8"},
		{"shopify NUL escape", r(shop(`{"id":9001,"total_price":"60.00","financial_status":"paid","email":"a\u0000@b.co"}`, "e1")), "NUL"},
		{"shopify invalid UTF-8", r(shop("{\"id\":9001,\"total_price\":\"60.00\",\"financial_status\":\"paid\",\"note\":\"\xff\"}", "e1")), "UTF-8"},
		{"shopify data after the object", r(shop(`{"id":9001,"total_price":"60.00","financial_status":"paid","email":"a@b.co"} 0`, "e1")), "single JSON object"},
		{"shopify lone low surrogate", r(shop(`{"id":9001,"total_price":"60.00","financial_status":"paid","note":"\udc00"}`, "e1")), "surrogate"},
		{"shopify deep nesting", r(shop(`{"id":9001,"total_price":"60.00","financial_status":"paid","note":`+strings.Repeat("[", 100)+strings.Repeat("]", 100)+`}`, "e1")), "nested"},
		{"shopify total over the cap", r(shop(`{"id":9001,"total_price":"100000000.01","financial_status":"paid","email":"a@b.co"}`, "e1")), "too large"},
		{"shopify order id not a number", r(shop(`{"id":1e30,"total_price":"60.00","financial_status":"paid","email":"a@b.co"}`, "e1")), "not a Shopify order id"},
		{"shopify customer id not a number", r(shop(`{"id":9001,"total_price":"60.00","financial_status":"paid","customer":{"id":-7,"email":"a@b.co"}}`, "e1")), "not a Shopify customer id"},
		{"shopify graphql id a path", r(shop(`{"id":9001,"total_price":"60.00","financial_status":"paid","customer":{"admin_graphql_api_id":"gid://shopify/../x","email":"a@b.co"}}`, "e1")), "not a CRM id"},
		{"shopify currency not a code", r(shop(`{"id":9001,"total_price":"60.00","currency":"`+long+`","financial_status":"paid","email":"a@b.co"}`, "e1")), "currency"},
		{"shopify event id too long", r(shop(`{"id":9001,"total_price":"60.00","financial_status":"paid","email":"a@b.co"}`, long)), "event id"},
		{"shopify updated_at too long", r(shop(`{"id":9001,"updated_at":"`+long+`","total_price":"60.00","financial_status":"paid","email":"a@b.co"}`, "e1")), "updated_at"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := w.post(c.req.path, c.req.body, c.req.headers)
			if status != 400 || !strings.Contains(fmt.Sprint(body["error"]), c.msg) {
				t.Fatalf("%d %v, want 400 with %q", status, body, c.msg)
			}
			if rows := w.rows(); rows != "events=0 orders=0 customers=0 enrollments=0 queue=0" {
				t.Fatalf("wrote %s", rows)
			}
		})
	}
}

// TestLifetimeValueNearTheCap: an order at the cap counts; one cent over is refused; and
// a lifetime value whose orders sum beyond a bigint (rows written around the API) saturates
// instead of failing every later order of the customer.
func TestLifetimeValueNearTheCap(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t)
	const capCents = "10000000000"
	if status, body := w.post("/webhooks/commerce7", c7Order("o1", "Create", capCents, "2026-11-20T10:00:00Z", "u1", ada), c7Auth()); status != 200 || body["status"] != "accepted" {
		t.Fatalf("an order at the cap: %d %v", status, body)
	}
	if status, body := w.post("/webhooks/commerce7", c7Order("o2", "Create", capCents+"1", "2026-11-20T10:00:00Z", "u1", ada), c7Auth()); status != 400 {
		t.Fatalf("an order over the cap: %d %v", status, body)
	}
	if got := w.membership("ada@example.com"); got != "Platinum:active ltv=10000000000 queue=add_membership" {
		t.Fatalf("%s", got)
	}
	// Two orders of 2^62 cents each, as an import or a hand-written row could leave them.
	_, err := w.pool.Exec(context.Background(), `
		INSERT INTO orders (client_id, crm_order_id, customer_id, total_cents, paid_at)
		SELECT client_id, 'legacy-' || g, id, 4611686018427387904, now() FROM customers, generate_series(1, 2) g`)
	if err != nil {
		t.Fatal(err)
	}
	status, body := w.post("/webhooks/commerce7", c7Order("o3", "Create", capCents, "2026-11-21T10:00:00Z", "u1", ada), c7Auth())
	if status != 200 || body["status"] != "accepted" {
		t.Fatalf("an order after the sum overflowed a bigint: %d %v", status, body)
	}
	if got := w.membership("ada@example.com"); got != "Platinum:active ltv=9223372036854775807 queue=add_membership" {
		t.Fatalf("%s", got)
	}
}

// TestAPIInputCaps: every text field of the API has a cap and a character rule; a value
// over it, or one the database cannot hold, is a 4xx naming the field and writes nothing.
func TestAPIInputCaps(t *testing.T) {
	t.Parallel()
	w := newEnrollWorld(t)
	long := func(n int) string { return strings.Repeat("a", n) }
	customer := func(extra string) string {
		return `{"email":"ada@example.com","first_name":"Ada","last_name":"Lovelace"` + extra + `}`
	}
	address := func(field, v string) string {
		a := map[string]string{"address": "1 Vine St", "city": "Napa", "state_code": "CA", "zip_code": "94558", "country_code": "US"}
		a[field] = v
		return fmt.Sprintf(`,"address":{"address":%q,"address2":%q,"city":%q,"state_code":%q,"zip_code":%q,"country_code":%q}`,
			a["address"], a["address2"], a["city"], a["state_code"], a["zip_code"], a["country_code"])
	}
	enroll := func(c string) (string, string) { return "/api/enrollments", w.body(w.c7, w.gold, "", c) }
	tier := func(fields string) (string, string) {
		return "/api/clients/" + w.c7 + "/tiers", `{"name":"T","rank":9,"duration_months":12` + fields + `}`
	}
	client := func(fields string) (string, string) { return "/api/clients", `{"crm_type":"commerce7"` + fields + `}` }
	cases := []struct {
		name   string
		path   string
		body   string
		status int
		msg    string
	}{
		{"first name with a NUL", "", "", 400, "NUL"},
		{"first name over the cap", "", "", 422, "customer.first_name is longer than 200 characters"},
		{"last name with a newline", "", "", 400, "customer.last_name must not contain control characters"},
		{"phone over the cap", "", "", 422, "customer.phone is longer than 40"},
		{"address over the cap", "", "", 422, "customer.address.address is longer than 200"},
		{"address2 over the cap", "", "", 422, "customer.address.address2 is longer than 200"},
		{"city over the cap", "", "", 422, "customer.address.city is longer than 200"},
		{"state over the cap", "", "", 422, "customer.address.state_code is longer than 200"},
		{"zip over the cap", "", "", 422, "customer.address.zip_code is longer than 200"},
		{"email over the cap", "", "", 400, "customer.email is longer than 254 bytes"},
		{"email with an ideographic space", "", "", 400, "is not an email address"},
		{"crm_id over the cap", "", "", 400, "customer.crm_id is longer than 255 bytes"},
		{"crm_id ..", "", "", 400, "not a CRM id"},
		{"crm_id .", "", "", 400, "not a CRM id"},
		{"crm_id a path", "", "", 400, "not a CRM id"},
		{"crm_id with a space", "", "", 400, "not a CRM id"},
		{"crm_id a lookalike gid", "", "", 400, "not a CRM id"},
		{"invalid UTF-8", "", "", 400, "UTF-8"},
		{"lone surrogate", "", "", 400, "surrogate"},
		{"tier name with a NUL", "", "", 400, "NUL"},
		{"tier name over the cap", "", "", 422, "name is longer than 200 characters"},
		{"tier rank beyond an integer", "", "", 422, "rank must be between 0 and"},
		{"club id over the cap", "", "", 400, "c7_club_id is longer than 255 bytes"},
		{"club id a path", "", "", 400, "not a CRM id"},
		{"client name with a NUL", "", "", 400, "NUL"},
		{"client name over the cap", "", "", 422, "name is longer than 200 characters"},
		{"client name with a tab", "", "", 400, "control characters"},
		{"tenant over the cap", "", "", 422, "is not a Commerce7 tenant id"},
	}
	bodies := map[string][2]string{}
	bodies["first name with a NUL"] = pair(enroll(`{"email":"a@b.co","first_name":"A\u0000","last_name":"B"}`))
	bodies["first name over the cap"] = pair(enroll(`{"email":"a@b.co","first_name":"` + strings.Repeat("é", 201) + `","last_name":"B"}`))
	bodies["last name with a newline"] = pair(enroll(`{"email":"a@b.co","first_name":"A","last_name":"B\nC"}`))
	bodies["phone over the cap"] = pair(enroll(customer(`,"phone":"` + long(41) + `"`)))
	for _, f := range []string{"address", "address2", "city", "state_code", "zip_code"} {
		name := map[string]string{"address": "address", "address2": "address2", "city": "city", "state_code": "state", "zip_code": "zip"}[f] + " over the cap"
		bodies[name] = pair(enroll(customer(address(f, long(201)))))
	}
	bodies["email over the cap"] = pair(enroll(`{"email":"` + long(250) + `@b.co","first_name":"A","last_name":"B"}`))
	bodies["email with an ideographic space"] = pair(enroll("{\"email\":\"ada@example\u3000com\",\"first_name\":\"A\",\"last_name\":\"B\"}"))
	bodies["crm_id over the cap"] = pair(enroll(customer(`,"crm_id":"` + long(3000) + `"`)))
	bodies["crm_id .."] = pair(enroll(customer(`,"crm_id":".."`)))
	bodies["crm_id ."] = pair(enroll(customer(`,"crm_id":"."`)))
	bodies["crm_id a path"] = pair(enroll(customer(`,"crm_id":"../customer"`)))
	bodies["crm_id with a space"] = pair(enroll(customer(`,"crm_id":"a b"`)))
	bodies["crm_id a lookalike gid"] = pair(enroll(customer(`,"crm_id":"gid://shopify/Customer/../1"`)))
	bodies["invalid UTF-8"] = pair(enroll(`{"email":"a@b.co","first_name":"Jos` + "\xe9" + `","last_name":"B"}`))
	bodies["lone surrogate"] = pair(enroll(`{"email":"a@b.co","first_name":"\udfff","last_name":"B"}`))
	bodies["tier name with a NUL"] = pair(tier(`,"name":"G\u0000","c7_club_id":"c1ab0000-0000-4000-8000-00000000000c"`))
	bodies["tier name over the cap"] = pair(tier(`,"name":"` + long(201) + `","c7_club_id":"c1ab0000-0000-4000-8000-00000000000c"`))
	bodies["tier rank beyond an integer"] = pair(tier(`,"rank":1099511627776,"c7_club_id":"c1ab0000-0000-4000-8000-00000000000c"`))
	bodies["club id over the cap"] = pair(tier(`,"c7_club_id":"` + long(3000) + `"`))
	bodies["club id a path"] = pair(tier(`,"c7_club_id":"../club"`))
	bodies["client name with a NUL"] = pair(client(`,"name":"N\u0000","tenant":"nul"`))
	bodies["client name over the cap"] = pair(client(`,"name":"` + long(201) + `","tenant":"long"`))
	bodies["client name with a tab"] = pair(client(`,"name":"A\tB","tenant":"tab"`))
	bodies["tenant over the cap"] = pair(client(`,"name":"T","tenant":"` + long(101) + `"`))

	clients, tiers := w.count("clients"), w.count("tiers")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pb, ok := bodies[c.name]
			if !ok {
				t.Fatalf("no body for %q", c.name)
			}
			status, body := w.do("POST", pb[0], pb[1])
			if status != c.status || !strings.Contains(fmt.Sprint(body["error"]), c.msg) {
				t.Fatalf("%d %v, want %d with %q", status, body, c.status, c.msg)
			}
			if got := w.rows(); got != "customers=0 enrollments=0 events=0 queue=0" {
				t.Fatalf("a rejected request wrote: %s", got)
			}
			if w.count("clients") != clients || w.count("tiers") != tiers {
				t.Fatalf("a rejected request wrote a client or a tier")
			}
		})
	}

	// What real CRMs send passes: Commerce7 UUIDs, Shopify numbers and GraphQL ids, and
	// names at the cap in any script.
	for i, c := range []string{
		`"crm_id":"3c5f7a9e-1d2b-4c6e-8f0a-9b8c7d6e5f4a"`, `"crm_id":"7001"`, `"crm_id":"gid://shopify/Customer/7002"`,
		`"phone":"+1 (707) 555-0100 ext. 12"` + address("address", strings.Repeat("é", 200)),
	} {
		body := w.body(w.c7, w.gold, "", fmt.Sprintf(`{"email":"ok%d@example.com","first_name":"%s","last_name":"B",%s}`, i, strings.Repeat("ท", 200), c))
		if status, answer := w.do("POST", "/api/enrollments", body); status != 201 {
			t.Fatalf("%s: %d %v", c, status, answer)
		}
	}
}

func pair(path, body string) [2]string { return [2]string{path, body} }

// TestForgedCursors: a cursor is the caller's text; one this API never made is a 400,
// not a database error.
func TestForgedCursors(t *testing.T) {
	t.Parallel()
	w := newEnrollWorld(t)
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, path := range []string{
		"/api/clients?cursor=" + enc(`{"t":"2026-01-01T00:00:00Z","id":"not-a-uuid"}`),
		"/api/clients/" + w.c7 + "/tiers?cursor=" + enc(`1099511627776`),
	} {
		if status, body := w.do("GET", path, ""); status != 400 || !strings.Contains(fmt.Sprint(body["error"]), "cursor") {
			t.Fatalf("%s: %d %v", path, status, body)
		}
	}
}
