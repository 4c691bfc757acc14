package api_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/api"
	"tiersync/internal/privacy"
)

// privacyWorld: two Shopify shops (two token clients, each with its own webhook secret),
// a Gold tier each, and the privacy service wired in. Shop A has Ada (whom the tests
// redact) and Bo; shop B has Cy.
type privacyWorld struct {
	*harness
	a, b string // client ids
}

const (
	privShopA, privSecretA = "cellar-a.myshopify.com", "secret-of-a"
	privShopB, privSecretB = "cellar-b.myshopify.com", "secret-of-b"
)

// Ada's personal data as the webhooks and our rows carry it: after customers/redact none
// of it may be found in any column of any table.
var adaPersonal = []string{"ada.l@example.com", "Adaline", "Lovelacey", "5556251199", "12 Vine Street"}

func newPrivacyWorld(t *testing.T) *privacyWorld {
	t.Helper()
	h := newHarness(t, func(o *api.Options, pool *pgxpool.Pool) { o.Privacy = privacy.New(pool, o.Store, o.Shopify) })
	w := &privacyWorld{harness: h}
	id := func(status int, body map[string]any) string {
		t.Helper()
		if status != 201 {
			t.Fatalf("setup: %d %v", status, body)
		}
		return body["id"].(string)
	}
	for _, c := range []struct {
		id             *string
		shop, secret   string
		customerOrders []string
	}{
		{&w.a, privShopA, privSecretA, []string{
			// Ada: an unpaid order first (stored as an ignored event, before she is a
			// customer of ours), then two paid ones; Bo: one paid order.
			`{"id":5001,"email":"ada.l@example.com","total_price":"60.00","currency":"USD","financial_status":"pending",
			  "customer":{"id":7001,"email":"ada.l@example.com","first_name":"Adaline","last_name":"Lovelacey","phone":"+15556251199"},
			  "billing_address":{"address1":"12 Vine Street","phone":"+15556251199"}}`,
			`{"id":5001,"email":"ada.l@example.com","total_price":"60.00","currency":"USD","financial_status":"paid",
			  "customer":{"id":7001,"email":"ada.l@example.com","first_name":"Adaline","last_name":"Lovelacey","phone":"+15556251199"},
			  "billing_address":{"address1":"12 Vine Street","phone":"+15556251199"}}`,
			`{"id":5002,"email":"ada.l@example.com","total_price":"20.00","currency":"USD","financial_status":"paid",
			  "customer":{"id":7001,"email":"ada.l@example.com","first_name":"Adaline","last_name":"Lovelacey"}}`,
			`{"id":5003,"email":"bo@example.com","total_price":"75.00","currency":"USD","financial_status":"paid",
			  "customer":{"id":7002,"email":"bo@example.com","first_name":"Bonifacio","last_name":"Smithers"}}`,
		}},
		{&w.b, privShopB, privSecretB, []string{
			`{"id":6001,"email":"cy@example.com","total_price":"90.00","currency":"USD","financial_status":"paid",
			  "customer":{"id":8001,"email":"cy@example.com","first_name":"Cyrus","last_name":"Vance"}}`,
		}},
	} {
		*c.id = id(h.do("POST", "/api/clients", fmt.Sprintf(`{"name":%q,"crm_type":"shopify","tenant":%q,"shopify_access_token":"shpat_%s","shopify_webhook_secret":%q}`,
			c.shop, c.shop, c.secret, c.secret)))
		id(h.do("POST", "/api/clients/"+*c.id+"/tiers", `{"name":"Gold","rank":1,"duration_months":12,"min_purchase_cents":5000,"shopify_tag":"gold"}`))
		for i, body := range c.customerOrders {
			if status, ans := h.doWith("POST", "/webhooks/shopify", body, signedFor(c.shop, c.secret, body, "orders/paid", fmt.Sprintf("%s-order-%d", c.shop, i))); status != 200 {
				t.Fatalf("setup order %d of %s: %d %v", i, c.shop, status, ans)
			}
		}
	}
	// What the webhooks do not bring, and texts that quote the customers: a phone and an
	// address on the rows, CRM errors on their queue rows and attempts.
	w.exec(`UPDATE customers SET phone = '+1 555 625 1199', address = '{"address":"12 Vine Street","city":"Napa","zip_code":"94558","country_code":"US"}'
		WHERE email = 'ada.l@example.com'`)
	w.exec(`UPDATE crm_sync_queue q SET error_message = 'shopify: customerCreate: Email ada.l@example.com has already been taken (Adaline Lovelacey, +15556251199)'
		FROM customers c WHERE c.id = q.customer_id AND c.email = 'ada.l@example.com'`)
	w.exec(`UPDATE crm_sync_queue q SET error_message = 'shopify: customerCreate: Email bo@example.com has already been taken (Bonifacio Smithers)'
		FROM customers c WHERE c.id = q.customer_id AND c.email = 'bo@example.com'`)
	w.exec(`INSERT INTO crm_sync_attempts (queue_id, attempt, worker, started_at, finished_at, outcome, error)
		SELECT q.id, 1, 'w1', now(), now(), 'retry', q.error_message FROM crm_sync_queue q`)
	return w
}

func (w *privacyWorld) exec(sql string, args ...any) {
	w.t.Helper()
	if _, err := w.pool.Exec(context.Background(), sql, args...); err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
}

func (w *privacyWorld) scalar(sql string, args ...any) string {
	w.t.Helper()
	var s string
	if err := w.pool.QueryRow(context.Background(), sql, args...).Scan(&s); err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
	return s
}

// signedFor signs body with secret as Shopify signs a webhook of topic from shop.
func signedFor(shop, secret, body, topic, event string) map[string]string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return map[string]string{"X-Shopify-Hmac-Sha256": base64.StdEncoding.EncodeToString(mac.Sum(nil)),
		"X-Shopify-Shop-Domain": shop, "X-Shopify-Topic": topic, "X-Shopify-Event-Id": event}
}

// postPrivacy sends a signed privacy webhook of shop A and wants answer.
func (w *privacyWorld) postPrivacy(shop, secret, topic, event, body, answer string) {
	w.t.Helper()
	status, ans := w.doWith("POST", "/webhooks/shopify", body, signedFor(shop, secret, body, topic, event))
	if status != 200 || ans["status"] != answer {
		w.t.Fatalf("%s %s: %d %v, want 200 %s", topic, event, status, ans, answer)
	}
}

// textColumns lists every column of the public schema whose values are text: text,
// varchar, char, jsonb, json, text arrays, and bytea read as escaped text.
func textColumns(t *testing.T, pool *pgxpool.Pool) [][2]string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT c.table_name, c.column_name
		FROM information_schema.columns c
		JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
		  AND (c.data_type IN ('text', 'character varying', 'character', 'jsonb', 'json', 'bytea')
		       OR (c.data_type = 'ARRAY' AND c.udt_name IN ('_text', '_varchar')))
		ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var c [2]string
		return c, r.Scan(&c[0], &c[1])
	})
	if err != nil || len(cols) < 20 {
		t.Fatalf("text columns: %d, %v", len(cols), err)
	}
	return cols
}

// whereFound says which table.column values contain needle, in any case ("" for none).
func whereFound(t *testing.T, pool *pgxpool.Pool, needle string) string {
	t.Helper()
	var found []string
	for _, c := range textColumns(t, pool) {
		expr := pgx.Identifier{c[1]}.Sanitize() + "::text"
		var dataType string
		if err := pool.QueryRow(context.Background(), `SELECT data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 AND column_name = $2`,
			c[0], c[1]).Scan(&dataType); err != nil {
			t.Fatal(err)
		}
		if dataType == "bytea" {
			expr = "encode(" + pgx.Identifier{c[1]}.Sanitize() + ", 'escape')"
		}
		var n int
		sql := "SELECT count(*) FROM " + pgx.Identifier{c[0]}.Sanitize() + " WHERE " + expr + " ILIKE '%' || $1 || '%'"
		if err := pool.QueryRow(context.Background(), sql, needle).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		if n > 0 {
			found = append(found, fmt.Sprintf("%s.%s (%d)", c[0], c[1], n))
		}
	}
	return strings.Join(found, ", ")
}

// rowCounts counts every table's rows.
func rowCounts(t *testing.T, pool *pgxpool.Pool) map[string]int {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, table := range tables {
		var n int
		if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[table] = n
	}
	return out
}

// TestPrivacyWebhooksRefusedWriteNothing: a privacy webhook whose signature does not
// verify is a 401, one whose body does not fit its topic or shop a 400, and neither
// writes a row anywhere.
func TestPrivacyWebhooksRefusedWriteNothing(t *testing.T) {
	t.Parallel()
	w := newPrivacyWorld(t)
	dataRequest := `{"shop_id":1,"shop_domain":"` + privShopA + `","customer":{"id":7001,"email":"ada.l@example.com"},"orders_requested":[5001],"data_request":{"id":9999}}`
	redact := `{"shop_id":1,"shop_domain":"` + privShopA + `","customer":{"id":7001,"email":"ada.l@example.com"},"orders_to_redact":[5001]}`
	shopRedact := `{"shop_id":1,"shop_domain":"` + privShopA + `"}`
	tampered := func(body, topic string) map[string]string {
		hs := signedFor(privShopA, privSecretA, body, topic, "ev-t")
		return hs
	}
	cases := []struct {
		name, topic, body string
		headers           map[string]string
		status            int
	}{
		{"redact with a tampered body", "customers/redact", strings.Replace(redact, "7001", "7002", 1), tampered(redact, "customers/redact"), 401},
		{"shop redact signed by another shop's app", "shop/redact", shopRedact, signedFor(privShopA, privSecretB, shopRedact, "shop/redact", "ev-1"), 401},
		{"shop redact without a signature", "shop/redact", shopRedact, map[string]string{"X-Shopify-Shop-Domain": privShopA, "X-Shopify-Topic": "shop/redact"}, 401},
		{"a signed data request replayed as a redaction", "customers/redact", dataRequest, signedFor(privShopA, privSecretA, dataRequest, "customers/redact", "ev-2"), 400},
		{"a signed redaction replayed as shop/redact", "shop/redact", redact, signedFor(privShopA, privSecretA, redact, "shop/redact", "ev-3"), 400},
		{"another shop's body under this shop's header", "customers/redact", strings.ReplaceAll(redact, privShopA, privShopB),
			signedFor(privShopA, privSecretA, strings.ReplaceAll(redact, privShopA, privShopB), "customers/redact", "ev-4"), 400},
		{"not JSON", "customers/data_request", "{", signedFor(privShopA, privSecretA, "{", "customers/data_request", "ev-5"), 400},
		{"an unknown shop", "shop/redact", shopRedact, signedFor("nobody.myshopify.com", privSecretA, shopRedact, "shop/redact", "ev-6"), 404},
	}
	before := rowCounts(t, w.pool)
	adaBefore := w.scalar(`SELECT row(c.*)::text FROM customers c WHERE email = 'ada.l@example.com'`)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, ans := w.doWith("POST", "/webhooks/shopify", c.body, c.headers)
			if status != c.status || ans["error"] == nil {
				t.Fatalf("%d %v, want %d with an error", status, ans, c.status)
			}
			if after := rowCounts(t, w.pool); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("rows changed:\n%v\n%v", before, after)
			}
			if got := w.scalar(`SELECT row(c.*)::text FROM customers c WHERE email = 'ada.l@example.com'`); got != adaBefore {
				t.Fatalf("Ada changed: %s", got)
			}
		})
	}
}

// TestPrivacyDataRequestListsTheCustomersData: customers/data_request is recorded once
// (a redelivery is a duplicate) and GET /api/privacy/requests lists it with what we hold
// of the customer: the row, the enrollments with their events, the orders.
func TestPrivacyDataRequestListsTheCustomersData(t *testing.T) {
	t.Parallel()
	w := newPrivacyWorld(t)
	body := `{"shop_id":1,"shop_domain":"` + privShopA + `","customer":{"id":7001,"email":"ada.l@example.com","phone":"+15556251199"},"orders_requested":[5001],"data_request":{"id":9999}}`
	w.postPrivacy(privShopA, privSecretA, "customers/data_request", "dr-1", body, "accepted")
	w.postPrivacy(privShopA, privSecretA, "customers/data_request", "dr-1", body, "duplicate")
	// By email alone, and a customer we hold nothing of.
	byEmail := `{"shop_id":1,"shop_domain":"` + privShopA + `","customer":{"email":"BO@example.com"},"data_request":{"id":10000}}`
	w.postPrivacy(privShopA, privSecretA, "customers/data_request", "dr-2", byEmail, "accepted")
	nobody := `{"shop_id":1,"shop_domain":"` + privShopA + `","customer":{"id":9,"email":"nobody@example.com"},"data_request":{"id":10001}}`
	w.postPrivacy(privShopA, privSecretA, "customers/data_request", "dr-3", nobody, "accepted")
	if n := w.count("privacy_requests"); n != 3 {
		t.Fatalf("%d privacy requests, want 3", n)
	}

	if status, _ := w.doWith("GET", "/api/privacy/requests", "", nil); status != 401 {
		t.Fatalf("without the token: %d", status)
	}
	status, page := w.do("GET", "/api/privacy/requests?limit=2", "")
	if status != 200 || page["next_cursor"] == nil {
		t.Fatalf("first page: %d %v", status, page)
	}
	items := page["items"].([]any)
	status, page2 := w.do("GET", "/api/privacy/requests?limit=2&cursor="+page["next_cursor"].(string), "")
	if status != 200 || page2["next_cursor"] != nil {
		t.Fatalf("second page: %d %v", status, page2)
	}
	items = append(items, page2["items"].([]any)...)
	if len(items) != 3 {
		t.Fatalf("%d items, want 3", len(items))
	}
	ada := items[2].(map[string]any) // newest first
	if ada["topic"] != "customers/data_request" || ada["data_request_id"] != "9999" || ada["shopify_customer_id"] != "gid://shopify/Customer/7001" ||
		ada["email"] != "ada.l@example.com" || fmt.Sprint(ada["order_ids"]) != "[5001]" {
		t.Fatalf("Ada's request: %v", ada)
	}
	data, _ := ada["data"].(map[string]any)
	if data == nil {
		t.Fatalf("no data with Ada's request: %v", ada)
	}
	customer := data["customer"].(map[string]any)
	enrollments := data["enrollments"].([]any)
	orders := data["orders"].([]any)
	if customer["email"] != "ada.l@example.com" || customer["first_name"] != "Adaline" || customer["phone"] != "+1 555 625 1199" ||
		customer["lifetime_value_cents"] != float64(8000) || len(enrollments) != 1 || len(orders) != 2 {
		t.Fatalf("Ada's data: %v", data)
	}
	if ev := enrollments[0].(map[string]any)["events"].([]any); len(ev) != 1 || ev[0].(map[string]any)["event"] != "enrolled" {
		t.Fatalf("Ada's enrollment events: %v", ev)
	}
	if bo := items[1].(map[string]any)["data"].(map[string]any)["customer"].(map[string]any); bo["first_name"] != "Bonifacio" {
		t.Fatalf("Bo, found by email in another case: %v", bo)
	}
	if items[0].(map[string]any)["data"] != nil {
		t.Fatalf("data for a customer we do not hold: %v", items[0])
	}
	if status, ans := w.do("GET", "/api/privacy/requests?cursor=nope", ""); status != 400 {
		t.Fatalf("bad cursor: %d %v", status, ans)
	}
}

// TestPrivacyCustomerRedact: after customers/redact, Ada's email, names, phone and
// address are in no text, jsonb or bytea column of any table (her rows, the raw webhook
// payloads, the queue's and attempts' error texts, the earlier data request); the
// request itself is recorded without them; her orders, enrollments and lifetime value
// stay; Bo, of the same shop, and Cy, of another, keep everything.
func TestPrivacyCustomerRedact(t *testing.T) {
	t.Parallel()
	w := newPrivacyWorld(t)
	dataRequest := `{"shop_id":1,"shop_domain":"` + privShopA + `","customer":{"id":7001,"email":"ada.l@example.com","phone":"+15556251199"},"data_request":{"id":9999}}`
	w.postPrivacy(privShopA, privSecretA, "customers/data_request", "dr-1", dataRequest, "accepted")
	for _, needle := range adaPersonal {
		if where := whereFound(t, w.pool, needle); where == "" {
			t.Fatalf("setup: %q is nowhere before the redaction", needle)
		}
	}
	boWhere := whereFound(t, w.pool, "bo@example.com")
	cyWhere := whereFound(t, w.pool, "cy@example.com")
	before := rowCounts(t, w.pool)
	ltv := w.scalar(`SELECT lifetime_value_cents::text FROM customers WHERE email = 'ada.l@example.com'`)
	adaID := w.scalar(`SELECT id::text FROM customers WHERE email = 'ada.l@example.com'`)
	boRow := w.scalar(`SELECT row(c.*)::text FROM customers c WHERE email = 'bo@example.com'`)

	redact := `{"shop_id":1,"shop_domain":"` + privShopA + `","customer":{"id":7001,"email":"ada.l@example.com","phone":"+15556251199"},"orders_to_redact":[5001,5002]}`
	w.postPrivacy(privShopA, privSecretA, "customers/redact", "rd-1", redact, "accepted")
	w.postPrivacy(privShopA, privSecretA, "customers/redact", "rd-1", redact, "duplicate")

	for _, needle := range adaPersonal {
		if where := whereFound(t, w.pool, needle); where != "" {
			t.Errorf("%q is still in %s", needle, where)
		}
	}
	after := rowCounts(t, w.pool)
	before["privacy_requests"]++ // the redaction's own row
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("row counts changed:\n%v\n%v", before, after)
	}
	if got := w.scalar(`SELECT email || ' ' || first_name || '|' || last_name || '|' || coalesce(phone, 'null') || ' ' || coalesce(address::text, 'null') || ' ' ||
		lifetime_value_cents || ' ' || crm_id FROM customers WHERE id = $1`, adaID); got !=
		"redacted+"+adaID+"@redacted.invalid ||null null "+ltv+" gid://shopify/Customer/7001" {
		t.Errorf("Ada's row: %s", got)
	}
	if got := w.scalar(`SELECT string_agg(status, ',' ORDER BY id) FROM enrollments WHERE customer_id = $1`, adaID); got != "active" {
		t.Errorf("Ada's enrollments: %s", got)
	}
	if got := w.scalar(`SELECT string_agg(status, ',' ORDER BY id) FROM crm_sync_queue WHERE customer_id = $1`, adaID); got != "cancelled" {
		t.Errorf("Ada's pending row: %s, want cancelled (a retry would send a placeholder to Shopify)", got)
	}
	if got := w.scalar(`SELECT count(*)::text FROM webhook_events WHERE payload = '{"redacted": true}'`); got != "3" {
		t.Errorf("%s webhook payloads redacted, want Ada's 3", got)
	}
	if got := w.scalar(`SELECT string_agg(topic || ':' || coalesce(email, '-') || ':' || coalesce(phone, '-') || ':' || (redacted_at IS NOT NULL) || ':' || coalesce(result::text, '-'), ' ' ORDER BY id) FROM privacy_requests`); got !=
		`customers/data_request:-:-:true:- customers/redact:-:-:false:{"customers": 1, "webhook_events": 3, "queue_cancelled": 1, "privacy_requests": 1, "queue_errors_scrubbed": 1, "attempt_errors_scrubbed": 1}` {
		t.Errorf("privacy requests: %s", got)
	}
	// Bo (same shop) and Cy (another shop) keep everything.
	if got := whereFound(t, w.pool, "bo@example.com"); got != boWhere {
		t.Errorf("Bo's email was in %s, now in %s", boWhere, got)
	}
	if got := whereFound(t, w.pool, "cy@example.com"); got != cyWhere {
		t.Errorf("Cy's email was in %s, now in %s", cyWhere, got)
	}
	if got := w.scalar(`SELECT row(c.*)::text FROM customers c WHERE email = 'bo@example.com'`); got != boRow {
		t.Errorf("Bo's row changed: %s", got)
	}
	if got := whereFound(t, w.pool, "Bonifacio Smithers"); !strings.Contains(got, "crm_sync_queue.error_message") || !strings.Contains(got, "crm_sync_attempts.error") {
		t.Errorf("Bo's error texts lost his name: %s", got)
	}
}

// TestPrivacyShopRedact: shop/redact deletes the client and every row of it in every
// table, records the request without the client or any personal data, and leaves the
// other shop as it was.
func TestPrivacyShopRedact(t *testing.T) {
	t.Parallel()
	w := newPrivacyWorld(t)
	dataRequest := `{"shop_id":1,"shop_domain":"` + privShopA + `","customer":{"id":7001,"email":"ada.l@example.com"},"data_request":{"id":9999}}`
	w.postPrivacy(privShopA, privSecretA, "customers/data_request", "dr-1", dataRequest, "accepted")
	otherRequest := strings.NewReplacer("7001", "8001", "ada.l@", "cy@", privShopA, privShopB).Replace(dataRequest)
	w.postPrivacy(privShopB, privSecretB, "customers/data_request", "dr-1", otherRequest, "accepted")
	cyWhere := whereFound(t, w.pool, "cy@example.com")
	keptB := func() string {
		return w.scalar(`SELECT (SELECT count(*) FROM customers WHERE client_id = $1) || ' ' || (SELECT count(*) FROM orders WHERE client_id = $1) || ' ' ||
			(SELECT count(*) FROM enrollments WHERE client_id = $1) || ' ' || (SELECT count(*) FROM webhook_events WHERE client_id = $1) || ' ' ||
			(SELECT count(*) FROM crm_sync_queue WHERE client_id = $1) || ' ' || (SELECT count(*) FROM shopify_connections WHERE client_id = $1) || ' ' ||
			(SELECT count(*) FROM crm_rate_buckets WHERE rate_key = $1::text) || ' ' || (SELECT count(*) FROM privacy_requests WHERE client_id = $1)`, w.b)
	}
	bBefore := keptB()
	if bBefore != "1 1 1 1 1 1 1 1" {
		t.Fatalf("setup: shop B holds %s", bBefore)
	}

	w.postPrivacy(privShopA, privSecretA, "shop/redact", "sr-1", `{"shop_id":1,"shop_domain":"`+privShopA+`"}`, "accepted")

	// No row of the client anywhere: every column that holds a client id, the rate
	// bucket (keyed by it), and the attempts of its queue rows.
	rows, err := w.pool.Query(context.Background(), `SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'client_id' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 8 {
		t.Fatalf("tables with client_id: %v %v", tables, err)
	}
	for _, table := range tables {
		var n int
		if err := w.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()+" WHERE client_id = $1", w.a).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s: %d rows of the client left (%v)", table, n, err)
		}
	}
	if where := whereFound(t, w.pool, w.a); where != "" {
		t.Errorf("the client's id is still in %s", where)
	}
	if got := w.scalar(`SELECT count(*)::text FROM crm_sync_attempts a WHERE NOT EXISTS (SELECT 1 FROM crm_sync_queue q WHERE q.id = a.queue_id)`); got != "0" {
		t.Errorf("%s orphaned attempts", got)
	}
	for _, needle := range append(adaPersonal, "bo@example.com", "Bonifacio") {
		if where := whereFound(t, w.pool, needle); where != "" {
			t.Errorf("%q is still in %s", needle, where)
		}
	}
	// The shop's domain is left in one place: the request that deleted it.
	if where := whereFound(t, w.pool, privShopA); where != "privacy_requests.shop_domain (1)" {
		t.Errorf("the shop's domain is in %s", where)
	}
	if got := w.scalar(`SELECT topic || ' ' || (client_id IS NULL) || ' ' || (email IS NULL AND phone IS NULL AND shopify_customer_id IS NULL) || ' ' || result::text
		FROM privacy_requests WHERE shop_domain = $1`, privShopA); got != `shop/redact true true {"clients": 1, "queue_rows": 2, "privacy_requests": 1}` {
		t.Errorf("the shop/redact row: %s", got)
	}
	if got := keptB(); got != bBefore {
		t.Errorf("shop B holds %s, held %s", got, bBefore)
	}
	if got := whereFound(t, w.pool, "cy@example.com"); got != cyWhere {
		t.Errorf("Cy's email was in %s, now in %s", cyWhere, got)
	}
	// Its webhooks are now those of an unknown shop.
	body := `{"shop_id":1,"shop_domain":"` + privShopA + `"}`
	if status, ans := w.doWith("POST", "/webhooks/shopify", body, signedFor(privShopA, privSecretA, body, "shop/redact", "sr-2")); status != 404 {
		t.Errorf("shop/redact again: %d %v", status, ans)
	}
}
