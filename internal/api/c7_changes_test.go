package api_test

// Issue 18, "Commerce7 as it really is": orders as they really come (walk-in sales,
// refunds, cancellations, deletions) and changes made in Commerce7 flowing back (Club
// Membership webhooks), each through POST /webhooks/commerce7 against a real database.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"tiersync/internal/crm/commerce7/c7test"
)

// c7Membership is a Commerce7 Club Membership webhook body.
func c7Membership(action, user, payload string) string {
	return fmt.Sprintf(`{"object":"Club Membership","action":%q,"tenantId":"napa","user":%q,"payload":%s}`, action, user, payload)
}

// c7Refund is a Commerce7 refund order: an order of its own, marked as one.
func c7Refund(id, original, total, updated, customer string) string {
	return fmt.Sprintf(`{"object":"Order","action":"Create","tenantId":"napa","user":"Winery Staff","payload":{"id":%q,"type":"Refund","linkedOrderId":%q,"total":%s,"updatedAt":%q,%s}}`,
		id, original, total, updated, customer)
}

// hookStep is one webhook and what the customer looks like after it.
type hookStep struct {
	name, body, answer string
	want               string // w.membership("ada@example.com"), or "" to skip
}

func (w *hookWorld) run(steps []hookStep) {
	w.t.Helper()
	for _, s := range steps {
		status, body := w.post("/webhooks/commerce7", s.body, c7Auth())
		if status != 200 || body["status"] != s.answer {
			w.t.Fatalf("%s: %d %v, want %s", s.name, status, body, s.answer)
		}
		if s.want != "" {
			if got := w.membership("ada@example.com"); got != s.want {
				w.t.Fatalf("%s: %s, want %s", s.name, got, s.want)
			}
		}
	}
}

// activeExpiry is the expiry of the customer's active enrollment.
func (w *hookWorld) activeExpiry(email string) time.Time {
	w.t.Helper()
	var at time.Time
	if err := w.pool.QueryRow(context.Background(), `
		SELECT e.expires_at FROM enrollments e JOIN customers c ON c.id = e.customer_id
		WHERE c.email = $1 AND e.status = 'active'`, email).Scan(&at); err != nil {
		w.t.Fatalf("active enrollment of %s: %v", email, err)
	}
	return at
}

// TestC7WalkInOrders: a paid order naming nobody (a walk-in sale at the POS) is 200
// ignored, never a 400 that Commerce7 would retry and, after 48 hours of failures,
// disable the webhook for: only its event row is written.
func TestC7WalkInOrders(t *testing.T) {
	w := newHookWorld(t)
	cases := []struct{ name, body string }{
		{"a walk-in sale", c7Order("pos-1", "Create", "12000", "2026-11-20T10:00:00Z", "u1", `"note":"tasting room"`)},
		{"an empty customer", c7Order("pos-2", "Create", "12000", "2026-11-20T10:00:00Z", "u1", `"customerId":"","customer":{"email":""}`)},
		{"a walk-in refund", c7Refund("pos-r1", "pos-1", "-12000", "u1", `"customerId":null`)},
	}
	for i, c := range cases {
		status, body := w.post("/webhooks/commerce7", c.body, c7Auth())
		if status != 200 || body["status"] != "ignored" {
			t.Fatalf("%s: %d %v, want 200 ignored", c.name, status, body)
		}
		if got, want := w.rows(), fmt.Sprintf("events=%d orders=0 customers=0 enrollments=0 queue=0", i+1); got != want {
			t.Fatalf("%s: rows %s, want %s", c.name, got, want)
		}
	}
}

// TestC7Refunds: a refund (Commerce7 makes it an order of its own) lowers lifetime value
// and nothing else: the tier already granted stays as it was, unrenewed, and the lower
// lifetime value counts towards the next order.
func TestC7Refunds(t *testing.T) {
	w := newHookWorld(t)
	w.run([]hookStep{
		{"Gold by purchase", c7Order("o1", "Create", "6000", "2026-11-20T10:00:00Z", "u1", ada), "accepted", "Gold:active ltv=6000 queue=add_membership"},
	})
	expires := w.activeExpiry("ada@example.com")
	w.run([]hookStep{
		{"a refund marked as one", c7Refund("r1", "o1", "2500", "u1", ada), "accepted", "Gold:active ltv=3500 queue=add_membership"},
		{"the same delivery again", c7Refund("r1", "o1", "2500", "u1", ada), "duplicate", "Gold:active ltv=3500 queue=add_membership"},
		{"an update of the refund is not counted twice", c7Refund("r1", "o1", "2500", "u2", ada), "accepted", "Gold:active ltv=3500 queue=add_membership"},
		{"a negative total, paid", c7Order("r2", "Create", "-1000", "2026-11-21T10:00:00Z", "u1", ada), "accepted", "Gold:active ltv=2500 queue=add_membership"},
		// 2 500 + 17 000 = 19 500: short of Platinum's 20 000, which it would have reached
		// without the refunds.
		{"the next order counts from the lower value", c7Order("o2", "Create", "17000", "2026-11-22T10:00:00Z", "u1", ada), "accepted",
			"Gold:active ltv=19500 queue=add_membership"},
		{"a refund of a customer we don't know", c7Refund("r3", "o77", "-5000", "u1", `"customerId":"c7-nobody","customer":{"email":"nobody@example.com"}`), "ignored", ""},
		{"refunds never go below zero", c7Refund("r4", "", "-99999", "u1", ada), "accepted", "Gold:active ltv=0 queue=add_membership"},
	})
	// o2 was a Gold-sized order: it renewed Gold from its own payment; the refunds moved
	// nothing.
	if got, want := w.activeExpiry("ada@example.com"), time.Date(2027, 11, 22, 10, 0, 0, 0, time.UTC); !got.Equal(want) || !got.After(expires) {
		t.Fatalf("expires %v, want %v", got, want)
	}
	var refunds, total int64
	if err := w.pool.QueryRow(context.Background(), `SELECT count(*), sum(total_cents) FROM orders WHERE kind = 'refund'`).Scan(&refunds, &total); err != nil ||
		refunds != 3 || total != -2500-1000-99999 {
		t.Fatalf("refund rows %d, sum %d (%v)", refunds, total, err)
	}
	if n := w.count("customers"); n != 1 {
		t.Fatalf("%d customers: the unknown refund made one", n)
	}
}

// TestC7CancelledAndDeletedOrders: an order cancelled or deleted in Commerce7 is no
// payment: it leaves lifetime value for good, and the tier it granted stays until it
// expires. A Delete of an order we never recorded is ignored.
func TestC7CancelledAndDeletedOrders(t *testing.T) {
	w := newHookWorld(t)
	w.run([]hookStep{
		{"Gold by purchase", c7Order("o1", "Create", "6000", "2026-11-20T10:00:00Z", "u1", ada), "accepted", "Gold:active ltv=6000 queue=add_membership"},
		{"a second order", c7Order("o2", "Create", "1000", "2026-11-21T10:00:00Z", "u1", ada), "accepted", "Gold:active ltv=7000 queue=add_membership"},
		{"its refund", c7Refund("r2", "o2", "-1000", "u1", ada), "accepted", "Gold:active ltv=6000 queue=add_membership"},
		// The refund of a deleted order is not subtracted a second time.
		{"the second order deleted", `{"object":"Order","action":"Delete","tenantId":"napa","user":"Winery Staff","payload":{"id":"o2"}}`, "accepted",
			"Gold:active ltv=6000 queue=add_membership"},
		{"a late update of the deleted order does not bring it back", c7Order("o2", "Update", "1000", "2026-11-21T10:00:00Z", "u2", ada), "accepted",
			"Gold:active ltv=6000 queue=add_membership"},
	})
	expires := w.activeExpiry("ada@example.com")
	w.run([]hookStep{
		{"the Gold order cancelled", c7Order("o1", "Update", "6000", "2026-11-20T10:00:00Z", "u2", ada+`,"paymentStatus":"Cancelled"`), "accepted",
			"Gold:active ltv=0 queue=add_membership"},
		{"an order we never saw deleted", `{"object":"Order","action":"Delete","tenantId":"napa","user":"Winery Staff","payload":{"id":"o9","updatedAt":"u1"}}`, "ignored", ""},
	})
	if got := w.activeExpiry("ada@example.com"); !got.Equal(expires) {
		t.Fatalf("a cancellation moved the expiry from %v to %v", expires, got)
	}
	if got := w.rows(); got != "events=7 orders=3 customers=1 enrollments=1 queue=1" {
		t.Fatalf("rows %s", got)
	}
	var events string
	if err := w.pool.QueryRow(context.Background(), `SELECT string_agg(outcome, ',' ORDER BY id) FROM webhook_events`).Scan(&events); err != nil ||
		events != "accepted,accepted,accepted,accepted,accepted,accepted,ignored" {
		t.Fatalf("outcomes %s (%v)", events, err)
	}
}

// c7State is what the Club Membership tests look at: the customer's enrollments
// (tier:status:source:crm membership id, oldest first), its member flags, its history
// (event/cause) and its queue rows.
func (w *hookWorld) c7State(email string) string {
	w.t.Helper()
	var out string
	err := w.pool.QueryRow(context.Background(), `
		SELECT coalesce((SELECT string_agg(t.name || ':' || e.status || ':' || e.source || ':' || coalesce(e.crm_membership_id, '-'), ',' ORDER BY e.created_at)
		                 FROM enrollments e JOIN tiers t ON t.id = e.tier_id WHERE e.customer_id = cu.id), '') ||
		       ' member=' || cu.is_club_member || ':' || coalesce((SELECT name FROM tiers WHERE id = cu.current_tier_id), '-') ||
		       ' events=' || coalesce((SELECT string_agg(v.event || '/' || v.cause, ',' ORDER BY v.id)
		                               FROM enrollment_events v JOIN enrollments e ON e.id = v.enrollment_id WHERE e.customer_id = cu.id), '') ||
		       ' queue=' || (SELECT count(*) FROM crm_sync_queue q WHERE q.customer_id = cu.id)
		FROM customers cu WHERE cu.email = $1`, email).Scan(&out)
	if err != nil {
		w.t.Fatalf("state of %s: %v", email, err)
	}
	return out
}

// enrollAda makes Ada a Gold member through the API and records "m-ada" as the CRM's id
// of that membership, as the syncer does once Commerce7 answered.
func (w *hookWorld) enrollAda() {
	w.t.Helper()
	status, body := w.do("POST", "/api/enrollments", `{"client_id":"`+w.c7+`","tier_id":"`+w.gold+`",
		"customer":{"email":"ada@example.com","first_name":"Ada","last_name":"Lovelace","crm_id":"c7-ada"}}`)
	if status != 201 {
		w.t.Fatalf("enroll: %d %v", status, body)
	}
	id := body["enrollment"].(map[string]any)["id"].(string)
	if _, err := w.pool.Exec(context.Background(), `UPDATE enrollments SET crm_membership_id = 'm-ada' WHERE id = $1`, id); err != nil {
		w.t.Fatal(err)
	}
}

// knowAda makes Ada a customer (crm_id c7-ada) without an enrollment: an order too small
// for any tier.
func (w *hookWorld) knowAda() {
	w.t.Helper()
	if status, body := w.post("/webhooks/commerce7", c7Order("o-small", "Create", "100", "2026-11-20T10:00:00Z", "u1", ada), c7Auth()); status != 200 || body["status"] != "accepted" {
		w.t.Fatalf("small order: %d %v", status, body)
	}
}

// TestC7ClubMembershipChanges: changes made in Commerce7 flow back. A membership of ours
// cancelled there cancels our enrollment; one created there in a club we map makes an
// enrollment; neither queues a CRM call (Commerce7 already has it). Everything else is
// ignored, our own writes echoed back change nothing, and a redelivery is a duplicate.
func TestC7ClubMembershipChanges(t *testing.T) {
	t.Parallel()
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	nextMonth := time.Now().UTC().AddDate(0, 1, 0).Format(time.RFC3339)
	signup := `"signupDate":"2026-11-01T00:00:00.000Z"`
	const enrolledGold = "Gold:active:api:m-ada member=true:Gold events=enrolled/api queue=1"
	const cancelledGold = "Gold:cancelled:api:m-ada member=false:- events=enrolled/api,cancelled/crm queue=1"
	cases := []struct {
		name   string
		setup  func(w *hookWorld)
		body   string
		answer string
		email  string // whose c7State to check ("" none)
		want   string
		events int                       // webhook_events rows written by the webhook
		bodyOf func(w *hookWorld) string // when the body needs what the world made
	}{
		{"cancelled there", (*hookWorld).enrollAda,
			c7Membership("Update", "Winery Staff", `{"id":"m-ada","customerId":"c7-ada","clubId":"c1ab0000-0000-4000-8000-000000000001","status":"Cancelled","cancelDate":"`+yesterday+`","updatedAt":"u1"}`),
			"accepted", "ada@example.com", cancelledGold, 1, nil},
		{"deleted there", (*hookWorld).enrollAda,
			c7Membership("Delete", "Winery Staff", `{"id":"m-ada"}`), "accepted", "ada@example.com", cancelledGold, 1, nil},
		{"an active membership with a cancel date past", (*hookWorld).enrollAda,
			c7Membership("Update", "Winery Staff", `{"id":"m-ada","customerId":"c7-ada","clubId":"c1ab0000-0000-4000-8000-000000000001","status":"Active","cancelDate":"`+yesterday+`","updatedAt":"u1"}`),
			"accepted", "ada@example.com", cancelledGold, 1, nil},
		{"a cancel date ahead: still a member", (*hookWorld).enrollAda,
			c7Membership("Update", "Winery Staff", `{"id":"m-ada","customerId":"c7-ada","clubId":"c1ab0000-0000-4000-8000-000000000001","status":"Active","cancelDate":"`+nextMonth+`","updatedAt":"u1"}`),
			"ignored", "ada@example.com", enrolledGold, 1, nil},
		{"our own cancellation echoed back", (*hookWorld).enrollAda,
			c7Membership("Update", "tiersync-app", `{"id":"m-ada","customerId":"c7-ada","clubId":"c1ab0000-0000-4000-8000-000000000001","status":"Cancelled","updatedAt":"u1"}`),
			"ignored", "ada@example.com", enrolledGold, 0, nil},
		{"created there for a customer we know", (*hookWorld).knowAda,
			c7Membership("Create", "Winery Staff", `{"id":"m-new","customerId":"c7-ada","clubId":"c1ab0000-0000-4000-8000-000000000001","status":"Active",`+signup+`,"updatedAt":"u1"}`),
			"accepted", "ada@example.com", "Gold:active:crm:m-new member=true:Gold events=enrolled/crm queue=0", 1, nil},
		{"created there with the customer's email", nil,
			c7Membership("Create", "Winery Staff", `{"id":"m-new","customerId":"c7-bo","clubId":"c1ab0000-0000-4000-8000-000000000002","status":"Active",`+signup+`,"updatedAt":"u1","customer":{"email":"bo@example.com","firstName":"Bo"}}`),
			"accepted", "bo@example.com", "Platinum:active:crm:m-new member=true:Platinum events=enrolled/crm queue=0", 1, nil},
		{name: "created there for a customer read from Commerce7", bodyOf: func(w *hookWorld) string {
			cy := w.fake.AddCustomer("napa", c7test.Customer{FirstName: "Cy", LastName: "Young", Emails: []string{"cy@example.com"}})
			return c7Membership("Create", "Winery Staff", `{"id":"m-new","customerId":"`+cy.ID+`","clubId":"c1ab0000-0000-4000-8000-000000000001","status":"Active",`+signup+`,"updatedAt":"u1"}`)
		}, answer: "accepted", email: "cy@example.com", want: "Gold:active:crm:m-new member=true:Gold events=enrolled/crm queue=0", events: 1},
		{"created there for a customer already enrolled", (*hookWorld).enrollAda,
			c7Membership("Create", "Winery Staff", `{"id":"m-other","customerId":"c7-ada","clubId":"c1ab0000-0000-4000-8000-000000000002","status":"Active",`+signup+`,"updatedAt":"u1"}`),
			"ignored", "ada@example.com", enrolledGold, 1, nil},
		{"created there in a club we don't map", (*hookWorld).knowAda,
			c7Membership("Create", "Winery Staff", `{"id":"m-new","customerId":"c7-ada","clubId":"c1ab0000-0000-4000-8000-00000000000a","status":"Active",`+signup+`,"updatedAt":"u1"}`),
			"ignored", "ada@example.com", " member=false:- events= queue=0", 1, nil},
		{"created there so long ago it would be over", (*hookWorld).knowAda,
			c7Membership("Create", "Winery Staff", `{"id":"m-new","customerId":"c7-ada","clubId":"c1ab0000-0000-4000-8000-000000000001","status":"Active","signupDate":"2020-01-01","updatedAt":"u1"}`),
			"ignored", "ada@example.com", " member=false:- events= queue=0", 1, nil},
		{"created there already cancelled", (*hookWorld).knowAda,
			c7Membership("Create", "Winery Staff", `{"id":"m-new","customerId":"c7-ada","clubId":"c1ab0000-0000-4000-8000-000000000001","status":"Cancelled",`+signup+`,"updatedAt":"u1"}`),
			"ignored", "ada@example.com", " member=false:- events= queue=0", 1, nil},
		{"our own creation echoed back", (*hookWorld).knowAda,
			c7Membership("Create", "tiersync-app", `{"id":"m-new","customerId":"c7-ada","clubId":"c1ab0000-0000-4000-8000-000000000001","status":"Active",`+signup+`,"updatedAt":"u1"}`),
			"ignored", "ada@example.com", " member=false:- events= queue=0", 0, nil},
		{"an update of a membership of ours still live", (*hookWorld).enrollAda,
			c7Membership("Update", "Winery Staff", `{"id":"m-ada","customerId":"c7-ada","clubId":"c1ab0000-0000-4000-8000-000000000001","status":"On Hold","updatedAt":"u1"}`),
			"ignored", "ada@example.com", enrolledGold, 1, nil},
		{"a membership of ours already ended here", func(w *hookWorld) {
			w.enrollAda()
			if _, err := w.pool.Exec(context.Background(), `UPDATE enrollments SET status = 'expired', ended_at = now()`); err != nil {
				w.t.Fatal(err)
			}
		}, c7Membership("Delete", "Winery Staff", `{"id":"m-ada"}`), "ignored", "", "", 1, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := newHookWorld(t)
			if c.setup != nil {
				c.setup(w)
			}
			body := c.body
			if c.bodyOf != nil {
				body = c.bodyOf(w)
			}
			before := w.count("webhook_events")
			status, answer := w.post("/webhooks/commerce7", body, c7Auth())
			if status != 200 || answer["status"] != c.answer {
				t.Fatalf("%d %v, want %s", status, answer, c.answer)
			}
			if c.email != "" {
				if got := w.c7State(c.email); got != c.want {
					t.Fatalf("state %q\n want %q", got, c.want)
				}
			}
			if n := w.count("webhook_events") - before; n != c.events {
				t.Fatalf("%d webhook events written, want %d", n, c.events)
			}
			// A redelivery is a duplicate and changes nothing (an echo stays ignored).
			status, answer = w.post("/webhooks/commerce7", body, c7Auth())
			if want := map[bool]string{true: "duplicate", false: "ignored"}[c.events == 1]; status != 200 || answer["status"] != want {
				t.Fatalf("again: %d %v, want %s", status, answer, want)
			}
			if c.email != "" {
				if got := w.c7State(c.email); got != c.want {
					t.Fatalf("again: state %q\n want %q", got, c.want)
				}
			}
		})
	}
}

// TestC7ClubMembershipDates: an enrollment made in Commerce7 runs the tier's duration from
// the membership's signup date, computed in SQL (31 January + 25 months is the end of
// February, where Go's AddDate would say 3 March).
func TestC7ClubMembershipDates(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t)
	w.knowAda()
	if status, body := w.do("POST", "/api/clients/"+w.c7+"/tiers", `{"name":"Long","rank":3,"duration_months":25,"c7_club_id":"c1ab0000-0000-4000-8000-000000000005"}`); status != 201 {
		t.Fatalf("tier: %d %v", status, body)
	}
	year := time.Now().UTC().Year()
	signup := time.Date(year-1, time.January, 31, 0, 0, 0, 0, time.UTC)
	status, body := w.post("/webhooks/commerce7", c7Membership("Create", "Winery Staff",
		`{"id":"m-1","customerId":"c7-ada","clubId":"c1ab0000-0000-4000-8000-000000000005","status":"Active","signupDate":"`+signup.Format(time.RFC3339)+`","updatedAt":"u1"}`), c7Auth())
	if status != 200 || body["status"] != "accepted" {
		t.Fatalf("%d %v", status, body)
	}
	var enrolled, expires time.Time
	if err := w.pool.QueryRow(context.Background(), `SELECT enrolled_at, expires_at FROM enrollments`).Scan(&enrolled, &expires); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(year+1, time.March, 0, 0, 0, 0, 0, time.UTC); !enrolled.Equal(signup) || !expires.Equal(want) {
		t.Fatalf("enrolled %v expires %v, want %v and %v", enrolled, expires, signup, want)
	}
}

// TestC7ClubMembershipTenants: a membership id is looked up within the webhook's client
// only: another winery's enrollment with the same CRM id is never touched.
func TestC7ClubMembershipTenants(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t)
	status, body := w.do("POST", "/api/clients", `{"name":"Sonoma","crm_type":"commerce7","tenant":"sonoma"}`)
	if status != 201 {
		t.Fatalf("client: %d %v", status, body)
	}
	sonoma := body["id"].(string)
	status, body = w.do("POST", "/api/clients/"+sonoma+"/tiers", `{"name":"Gold","rank":1,"duration_months":12,"c7_club_id":"c1ab0000-0000-4000-8000-000000000001"}`)
	if status != 201 {
		t.Fatalf("tier: %d %v", status, body)
	}
	status, body = w.do("POST", "/api/enrollments", `{"client_id":"`+sonoma+`","tier_id":"`+body["id"].(string)+`",
		"customer":{"email":"ada@example.com","first_name":"Ada","last_name":"Lovelace","crm_id":"c7-ada"}}`)
	if status != 201 {
		t.Fatalf("enroll: %d %v", status, body)
	}
	if _, err := w.pool.Exec(context.Background(), `UPDATE enrollments SET crm_membership_id = 'm-ada'`); err != nil {
		t.Fatal(err)
	}
	status, body = w.post("/webhooks/commerce7", c7Membership("Delete", "Winery Staff", `{"id":"m-ada"}`), c7Auth())
	if status != 200 || body["status"] != "ignored" {
		t.Fatalf("%d %v", status, body)
	}
	var statuses string
	if err := w.pool.QueryRow(context.Background(), `SELECT string_agg(status, ',') FROM enrollments`).Scan(&statuses); err != nil || statuses != "active" {
		t.Fatalf("enrollments %s (%v)", statuses, err)
	}
}

// TestC7ClubMembershipRejections: a malformed Club Membership webhook is a 400 and writes
// nothing; an unknown customer whose email Commerce7 cannot give now is a 502 (Commerce7
// delivers it again) and writes nothing.
func TestC7ClubMembershipRejections(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t)
	long := strings.Repeat("x", 600)
	cases := []struct {
		name   string
		body   string
		status int
		answer string
	}{
		{"no id", c7Membership("Create", "x", `{"customerId":"c1","clubId":"c1ab0000-0000-4000-8000-000000000001"}`), 400, "payload.id is required"},
		{"no club", c7Membership("Create", "x", `{"id":"m1","customerId":"c1"}`), 400, "clubId"},
		{"an id that is a path", c7Membership("Create", "x", `{"id":"../m1","customerId":"c1","clubId":"c1ab0000-0000-4000-8000-000000000001"}`), 400, "not a CRM id"},
		{"an id too long", c7Membership("Create", "x", `{"id":"`+long+`","customerId":"c1","clubId":"c1ab0000-0000-4000-8000-000000000001"}`), 400, "membership id"},
		{"a bad email", c7Membership("Create", "x", `{"id":"m1","customerId":"c1","clubId":"c1ab0000-0000-4000-8000-000000000001","customer":{"email":"nope"}}`), 400, "not an email"},
		{"a bad signup date", c7Membership("Create", "x", `{"id":"m1","customerId":"c1","clubId":"c1ab0000-0000-4000-8000-000000000001","signupDate":"soon"}`), 400, "signupDate"},
		{"a payload that is no object", c7Membership("Create", "x", `[1]`), 400, "payload"},
		{"Commerce7 down", c7Membership("Create", "x", `{"id":"m1","customerId":"c7-unknown","clubId":"c1ab0000-0000-4000-8000-000000000001","updatedAt":"u1"}`), 502, "retry later"},
	}
	w.fake.Inject(c7test.Fault{Kind: c7test.FaultStatus, Status: 503})
	for _, c := range cases {
		status, body := w.post("/webhooks/commerce7", c.body, c7Auth())
		if status != c.status || !strings.Contains(fmt.Sprint(body["error"]), c.answer) {
			t.Fatalf("%s: %d %v, want %d with %q", c.name, status, body, c.status, c.answer)
		}
		if rows := w.rows(); rows != "events=0 orders=0 customers=0 enrollments=0 queue=0" {
			t.Fatalf("%s: wrote %s", c.name, rows)
		}
	}
}

// TestC7UnknownActionsAreIgnored: an action tiersync does not act on ("Bulk Update", whose
// payload no source documents and may be an array) is answered 200 ignored and writes
// nothing: a 400 would make Commerce7 retry it and, after 48 hours, disable the webhook.
func TestC7UnknownActionsAreIgnored(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t)
	for _, object := range []string{"Order", "Club Membership"} {
		body := `{"object":"` + object + `","action":"Bulk Update","tenantId":"napa","user":"someone","payload":[{"id":"o1"},{"id":"o2"}]}`
		status, answer := w.post("/webhooks/commerce7", body, c7Auth())
		if status != 200 || answer["status"] != "ignored" {
			t.Fatalf("%s Bulk Update: %d %v, want 200 ignored", object, status, answer)
		}
	}
	if got := w.rows(); got != "events=0 orders=0 customers=0 enrollments=0 queue=0" {
		t.Fatalf("rows %s: an ignored action wrote something", got)
	}
}
