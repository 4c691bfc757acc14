package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// enrollWorld is two clients (Commerce7 with two tiers, Shopify with one) behind the API.
type enrollWorld struct {
	*harness
	c7, shop             string
	gold, short, shopTag string
}

func newEnrollWorld(t *testing.T) *enrollWorld {
	h := newHarness(t)
	w := &enrollWorld{harness: h}
	id := func(status int, body map[string]any) string {
		t.Helper()
		if status != 201 {
			t.Fatalf("setup: %d %v", status, body)
		}
		return body["id"].(string)
	}
	w.c7 = id(h.do("POST", "/api/clients", `{"name":"Napa","crm_type":"commerce7","tenant":"napa"}`))
	w.shop = id(h.do("POST", "/api/clients", `{"name":"Shop","crm_type":"shopify","tenant":"s.myshopify.com","shopify_access_token":"shpat_x","shopify_webhook_secret":"whsec_test"}`))
	w.gold = id(h.do("POST", "/api/clients/"+w.c7+"/tiers", `{"name":"Gold","rank":1,"duration_months":12,"c7_club_id":"c1ab0000-0000-4000-8000-000000000001"}`))
	w.short = id(h.do("POST", "/api/clients/"+w.c7+"/tiers", `{"name":"Monthly","rank":2,"duration_months":1,"c7_club_id":"c1ab0000-0000-4000-8000-000000000008"}`))
	w.shopTag = id(h.do("POST", "/api/clients/"+w.shop+"/tiers", `{"name":"VIP","rank":1,"duration_months":12,"shopify_tag":"vip"}`))
	return w
}

func (w *enrollWorld) body(client, tier, extra, customer string) string {
	if customer == "" {
		// An address: the Commerce7 tiers are Ship tiers, which need one for a new customer.
		customer = `{"email":"ada@example.com","first_name":"Ada","last_name":"Lovelace",` +
			`"address":{"address":"1 Vine St","city":"Napa","state_code":"CA","zip_code":"94558","country_code":"US"}}`
	}
	return fmt.Sprintf(`{"client_id":%q,"tier_id":%q%s,"customer":%s}`, client, tier, extra, customer)
}

// rows counts what an enrollment writes, everywhere it writes.
func (w *enrollWorld) rows() string {
	return fmt.Sprintf("customers=%d enrollments=%d events=%d queue=%d", w.count("customers"), w.count("enrollments"),
		w.count("enrollment_events"), w.count("crm_sync_queue"))
}

func TestEnrollmentRejections(t *testing.T) {
	t.Parallel()
	w := newEnrollWorld(t)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	cases := []struct {
		name   string
		body   string
		status int
		msg    string
	}{
		{"malformed JSON", `{"client_id":`, 400, "malformed JSON"},
		{"wrong type", `{"client_id":5}`, 400, "client_id must be a string"},
		{"unknown field", w.body(w.c7, w.gold, `,"tier":"x"`, ""), 400, "unknown field"},
		{"no client", `{"tier_id":"` + w.gold + `","customer":{"email":"a@b.co","first_name":"A","last_name":"B"}}`, 400, "client_id is required"},
		{"no tier", `{"client_id":"` + w.c7 + `","customer":{"email":"a@b.co","first_name":"A","last_name":"B"}}`, 400, "tier_id is required"},
		{"no customer", `{"client_id":"` + w.c7 + `","tier_id":"` + w.gold + `"}`, 400, "customer is required"},
		{"no email", w.body(w.c7, w.gold, "", `{"first_name":"A","last_name":"B"}`), 400, "customer.email is required"},
		{"bad email", w.body(w.c7, w.gold, "", `{"email":"ada at example","first_name":"A","last_name":"B"}`), 400, "is not an email address"},
		{"no first name", w.body(w.c7, w.gold, "", `{"email":"a@b.co","first_name":" ","last_name":"B"}`), 400, "customer.first_name is required"},
		{"no last name", w.body(w.c7, w.gold, "", `{"email":"a@b.co","first_name":"A"}`), 400, "customer.last_name is required"},
		{"client not a UUID", w.body("napa", w.gold, "", ""), 400, "is not a UUID"},
		{"address without city", w.body(w.c7, w.gold, "", `{"email":"a@b.co","first_name":"A","last_name":"B","address":{"address":"1 Vine","zip_code":"1","country_code":"US","state_code":"CA"}}`), 400, "customer.address.city is required"},
		{"bad enrolled_at", w.body(w.c7, w.gold, `,"enrolled_at":"yesterday"`, ""), 400, "not an RFC 3339 timestamp"},
		{"unknown client", w.body("00000000-0000-0000-0000-000000000001", w.gold, "", ""), 404, "client 00000000-0000-0000-0000-000000000001 not found"},
		{"unknown tier", w.body(w.c7, "00000000-0000-0000-0000-000000000002", "", ""), 404, "tier 00000000-0000-0000-0000-000000000002 not found"},
		{"tier of another client", w.body(w.c7, w.shopTag, "", ""), 422, "belongs to another client"},
		{"enrolled_at in the future", w.body(w.c7, w.gold, `,"enrolled_at":"`+future+`"`, ""), 422, "is in the future"},
		{"already over", w.body(w.c7, w.short, `,"enrolled_at":"2020-01-01T00:00:00Z"`, ""), 422, "already past"},
		{"bad country", w.body(w.c7, w.gold, "", `{"email":"a@b.co","first_name":"A","last_name":"B","address":{"address":"1 Vine","city":"Napa","zip_code":"1","country_code":"USA"}}`), 422, "country_code"},
		{"empty crm_id", w.body(w.c7, w.gold, "", `{"email":"a@b.co","first_name":"A","last_name":"B","crm_id":" "}`), 422, "crm_id is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := w.do("POST", "/api/enrollments", c.body)
			if status != c.status || !strings.Contains(fmt.Sprint(body["error"]), c.msg) {
				t.Fatalf("%d %v, want %d with %q", status, body, c.status, c.msg)
			}
			if got := w.rows(); got != "customers=0 enrollments=0 events=0 queue=0" {
				t.Fatalf("a rejected request wrote: %s", got)
			}
		})
	}
}

func TestEnroll(t *testing.T) {
	t.Parallel()
	w := newEnrollWorld(t)
	status, body := w.do("POST", "/api/enrollments", w.body(w.c7, w.short, `,"enrolled_at":"`+time.Now().UTC().AddDate(0, 0, -1).Format(time.RFC3339)+`"`,
		`{"email":"Ada@Example.com","first_name":"Ada","last_name":"Lovelace","phone":"+1 707 555 0100",
		  "address":{"address":"1 Vine St","city":"Napa","state_code":"CA","zip_code":"94558","country_code":"us"}}`))
	if status != 201 {
		t.Fatalf("enroll: %d %v", status, body)
	}
	e := body["enrollment"].(map[string]any)
	sync := body["sync"].(map[string]any)
	if e["status"] != "active" || e["client_id"] != w.c7 || e["tier_id"] != w.short || e["crm_membership_id"] != nil ||
		sync["status"] != "pending" || sync["queue_id"] == nil {
		t.Fatalf("answer %v", body)
	}
	if got := w.rows(); got != "customers=1 enrollments=1 events=1 queue=1" {
		t.Fatalf("wrote %s", got)
	}
	var member bool
	var tier, address, action string
	var priority int
	err := w.pool.QueryRow(context.Background(), `SELECT cu.is_club_member, cu.current_tier_id, cu.address::text, q.action_type, q.priority
		FROM customers cu JOIN crm_sync_queue q ON q.customer_id = cu.id`).Scan(&member, &tier, &address, &action, &priority)
	if err != nil || !member || tier != w.short || action != "add_membership" || priority != 10 || !strings.Contains(address, `"country_code": "US"`) {
		t.Fatalf("flags %v %s, row %s %d, address %s (%v)", member, tier, action, priority, address, err)
	}

	// The same customer, whatever the case of the email, cannot be enrolled twice.
	status, dup := w.do("POST", "/api/enrollments", w.body(w.c7, w.gold, "", `{"email":"ada@example.COM","first_name":"Ada","last_name":"L"}`))
	if status != 409 || dup["enrollment_id"] != e["id"] {
		t.Fatalf("second enrollment: %d %v", status, dup)
	}
	if got := w.rows(); got != "customers=1 enrollments=1 events=1 queue=1" {
		t.Fatalf("the 409 wrote: %s", got)
	}

	status, got := w.do("GET", "/api/enrollments/"+e["id"].(string), "")
	if status != 200 || fmt.Sprint(got["enrollment"]) != fmt.Sprint(e) || fmt.Sprint(got["sync"]) != fmt.Sprint(sync) {
		t.Fatalf("GET: %d %v, want %v", status, got, body)
	}
	if status, _ := w.do("GET", "/api/enrollments/00000000-0000-0000-0000-000000000009", ""); status != 404 {
		t.Fatalf("unknown enrollment: %d", status)
	}
	if status, _ := w.do("GET", "/api/enrollments/nope", ""); status != 400 {
		t.Fatalf("malformed id: %d", status)
	}
}

// TestExpiresAtIsCalendarMonths: 31 January + 13 months is the end of February (Go's
// AddDate would say 3 March).
func TestExpiresAtIsCalendarMonths(t *testing.T) {
	t.Parallel()
	w := newEnrollWorld(t)
	status, body := w.do("POST", "/api/clients/"+w.c7+"/tiers", `{"name":"Long","rank":5,"duration_months":13,"c7_club_id":"c1ab0000-0000-4000-8000-000000000005"}`)
	if status != 201 {
		t.Fatalf("tier: %d %v", status, body)
	}
	y := time.Now().UTC().Year()
	if time.Now().UTC().Before(time.Date(y, 1, 31, 12, 0, 0, 0, time.UTC)) {
		y--
	}
	jan31 := time.Date(y, 1, 31, 12, 0, 0, 0, time.UTC)
	status, body = w.do("POST", "/api/enrollments", w.body(w.c7, body["id"].(string), `,"enrolled_at":"`+jan31.Format(time.RFC3339)+`"`, ""))
	if status != 201 {
		t.Fatalf("%d %v", status, body)
	}
	endOfFeb := time.Date(y+1, 3, 0, 12, 0, 0, 0, time.UTC) // day 0 of March: the last of February
	if got := body["enrollment"].(map[string]any)["expires_at"]; got != endOfFeb.Format(time.RFC3339) {
		t.Fatalf("expires_at %v, want %s", got, endOfFeb.Format(time.RFC3339))
	}
}

func TestEnrollExistingCustomerAndCRMIDs(t *testing.T) {
	t.Parallel()
	w := newEnrollWorld(t)
	ctx := context.Background()
	if _, err := w.pool.Exec(ctx, `INSERT INTO customers (client_id, email, first_name, phone, crm_id) VALUES ($1, 'bo@example.com', 'Bo', '+1 555', 'c7-bo')`, w.c7); err != nil {
		t.Fatal(err)
	}
	if _, err := w.pool.Exec(ctx, `INSERT INTO customers (client_id, email, crm_id) VALUES ($1, 'cy@example.com', 'c7-cy')`, w.c7); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		customer string
		status   int
		msg      string
	}{
		{"another CRM id than the stored one", `{"email":"bo@example.com","first_name":"Bo","last_name":"B","crm_id":"c7-other"}`, 409, "linked to another CRM customer"},
		{"a CRM id of another customer", `{"email":"new@example.com","first_name":"N","last_name":"W","crm_id":"c7-cy"}`, 409, "belongs to another customer"},
		{"the stored CRM id", `{"email":"BO@example.com","first_name":"Bob","last_name":"Brown","crm_id":"c7-bo"}`, 201, ""},
	}
	for _, c := range cases {
		status, body := w.do("POST", "/api/enrollments", w.body(w.c7, w.gold, "", c.customer))
		if status != c.status || !strings.Contains(fmt.Sprint(body["error"]), c.msg) {
			t.Fatalf("%s: %d %v", c.name, status, body)
		}
	}
	var first, last, phone, crmID string
	var n int
	err := w.pool.QueryRow(ctx, `SELECT first_name, last_name, phone, crm_id, (SELECT count(*) FROM customers)
		FROM customers WHERE email = 'bo@example.com'`).Scan(&first, &last, &phone, &crmID, &n)
	if err != nil || first != "Bob" || last != "Brown" || phone != "+1 555" || crmID != "c7-bo" || n != 2 {
		t.Fatalf("customer %s %s %s %s, %d customers (%v)", first, last, phone, crmID, n, err)
	}
	var queued string
	if err := w.pool.QueryRow(ctx, `SELECT customer_crm_id FROM crm_sync_queue`).Scan(&queued); err != nil || queued != "c7-bo" {
		t.Fatalf("queue row customer_crm_id %q (%v)", queued, err)
	}
}

// TestEnrollIsOneTransaction: a failure after the enrollment insert (here the queue
// refuses the row) leaves no enrollment, no customer and no queue row.
func TestEnrollIsOneTransaction(t *testing.T) {
	t.Parallel()
	w := newEnrollWorld(t)
	ctx := context.Background()
	_, err := w.pool.Exec(ctx, `
		CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'queue refused'; END $$;
		CREATE TRIGGER refuse BEFORE INSERT ON crm_sync_queue FOR EACH ROW EXECUTE FUNCTION refuse();`)
	if err != nil {
		t.Fatal(err)
	}
	status, body := w.do("POST", "/api/enrollments", w.body(w.c7, w.gold, "", ""))
	if status != 500 {
		t.Fatalf("%d %v", status, body)
	}
	if got := w.rows(); got != "customers=0 enrollments=0 events=0 queue=0" {
		t.Fatalf("a failed enrollment left: %s", got)
	}
}

func TestShopifyEnrollmentDoesNotWait(t *testing.T) {
	t.Parallel()
	w := newEnrollWorld(t)
	status, body := w.do("POST", "/api/enrollments", w.body(w.shop, w.shopTag, "", ""))
	if status != 201 || body["sync"].(map[string]any)["status"] != "pending" {
		t.Fatalf("%d %v", status, body)
	}
}
