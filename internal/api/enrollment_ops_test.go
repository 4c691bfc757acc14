package api_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// operatorWorld is newEnrollWorld with three members: ada (Gold, enrolled three days
// ago), bo (Monthly, two days ago), both Commerce7, and cy (Shopify VIP, one day ago).
type operatorWorld struct {
	*enrollWorld
	ada, bo, cy             string // enrollment ids
	adaCust, boCust, cyCust string // customer ids
}

func newOperatorWorld(t *testing.T) *operatorWorld {
	t.Helper()
	w := &operatorWorld{enrollWorld: newEnrollWorld(t)}
	enroll := func(client, tier, email string, daysAgo int) (enrollment, customer string) {
		t.Helper()
		at := time.Now().UTC().AddDate(0, 0, -daysAgo).Format(time.RFC3339)
		first := strings.ToUpper(email[:1]) + email[1:strings.IndexByte(email, '@')]
		cust := fmt.Sprintf(`{"email":%q,"first_name":%q,"last_name":"Member",`+
			`"address":{"address":"1 Vine St","city":"Napa","state_code":"CA","zip_code":"94558","country_code":"US"}}`, email, first)
		status, body := w.do("POST", "/api/enrollments", w.body(client, tier, `,"enrolled_at":"`+at+`"`, cust))
		if status != 201 {
			t.Fatalf("enroll %s: %d %v", email, status, body)
		}
		e := body["enrollment"].(map[string]any)
		return e["id"].(string), e["customer_id"].(string)
	}
	w.ada, w.adaCust = enroll(w.c7, w.gold, "ada@example.com", 3)
	w.bo, w.boCust = enroll(w.c7, w.short, "bo@example.com", 2)
	w.cy, w.cyCust = enroll(w.shop, w.shopTag, "cy@example.com", 1)
	return w
}

// ids returns the ids of a list answer's items, in order.
func ids(body map[string]any) []string {
	items, _ := body["items"].([]any)
	out := []string{}
	for _, it := range items {
		out = append(out, it.(map[string]any)["id"].(string))
	}
	return out
}

// walk pages through path (which has a query) limit items at a time and returns every id.
func walk(t *testing.T, h *harness, path string, limit int) []string {
	t.Helper()
	var all []string
	cursor := ""
	for page := 0; page < 20; page++ {
		p := fmt.Sprintf("%s&limit=%d", path, limit)
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		status, body := h.do("GET", p, "")
		if status != 200 {
			t.Fatalf("GET %s: %d %v", p, status, body)
		}
		got := ids(body)
		if len(got) > limit {
			t.Fatalf("GET %s: %d items, limit %d", p, len(got), limit)
		}
		all = append(all, got...)
		next, _ := body["next_cursor"].(string)
		if next == "" {
			return all
		}
		cursor = next
	}
	t.Fatalf("GET %s: more than 20 pages", path)
	return nil
}

func TestListEnrollments(t *testing.T) {
	t.Parallel()
	w := newOperatorWorld(t)
	long := strings.Repeat("x", 400)
	cases := []struct {
		name   string
		query  string
		status int
		want   string // the ids in order ("ada,bo"), or a substring of the error
	}{
		{"everything, newest first", "", 200, "cy,bo,ada"},
		{"one client", "client_id=" + w.c7, 200, "bo,ada"},
		{"one tier", "tier_id=" + w.gold, 200, "ada"},
		{"a status", "status=active", 200, "cy,bo,ada"},
		{"a status none has", "status=cancelled", 200, ""},
		{"an email in another case", "email=ADA@Example.COM", 200, "ada"},
		{"an email and the wrong client", "email=ada@example.com&client_id=" + w.shop, 200, ""},
		{"every filter", "client_id=" + w.c7 + "&tier_id=" + w.short + "&status=active&email=bo@example.com", 200, "bo"},
		{"an unknown client matches nothing", "client_id=00000000-0000-4000-8000-000000000000", 200, ""},
		{"a client that is not a UUID", "client_id=napa", 400, `client_id "napa" is not a UUID`},
		{"a tier that is not a UUID", "tier_id=gold", 400, `tier_id "gold" is not a UUID`},
		{"a long client id, not echoed", "client_id=" + long, 400, "client_id is 400 bytes long; at most 36"},
		{"a long tier id, not echoed", "tier_id=" + long, 400, "tier_id is 400 bytes long; at most 36"},
		{"an unknown status", "status=lost", 422, "status \"lost\" is not one of active, expired, upgraded, cancelled"},
		{"a long status, not echoed", "status=" + long, 400, "status is 400 bytes long; at most 32"},
		{"part of an email", "email=ada", 400, `email "ada" is not an email address`},
		{"a long email, not echoed", "email=" + long + "@example.com", 400, "email is 412 bytes long; at most 254"},
		{"invalid UTF-8", "email=%ff%fe@example.com", 400, "not valid UTF-8"},
		{"a NUL", "status=%00", 400, "not valid UTF-8"},
		{"limit 0", "limit=0", 400, "limit must be an integer from 1 to 500"},
		{"limit 501", "limit=501", 400, "limit must be an integer from 1 to 500"},
		{"a cursor not ours", "cursor=abc", 400, "is not one this API returned"},
		{"a cursor with a bad id", "cursor=eyJ0IjoiMjAyNi0wMS0wMVQwMDowMDowMFoiLCJpZCI6IngifQ", 400, "is not one this API returned"},
		{"a long cursor, not echoed", "cursor=" + strings.Repeat("a", 600), 400, "cursor is 600 bytes long"},
	}
	names := map[string]string{w.ada: "ada", w.bo: "bo", w.cy: "cy"}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := w.do("GET", "/api/enrollments?"+c.query, "")
			got := fmt.Sprint(body["error"])
			if status == 200 {
				var ns []string
				for _, id := range ids(body) {
					ns = append(ns, names[id])
				}
				got = strings.Join(ns, ",")
				if body["next_cursor"] != nil {
					t.Fatalf("one page holds everything, yet next_cursor is %v", body["next_cursor"])
				}
			}
			if status != c.status || (status == 200 && got != c.want) || (status != 200 && !strings.Contains(got, c.want)) {
				t.Fatalf("%d %q, want %d %q", status, got, c.status, c.want)
			}
			if status != 200 && strings.Contains(got, strings.Repeat("x", 100)) {
				t.Fatalf("a long value echoed: %q", got)
			}
		})
	}

	// An item is GET /api/enrollments/{id}'s enrollment plus what an operator reads it by.
	_, body := w.do("GET", "/api/enrollments?tier_id="+w.gold, "")
	item := body["items"].([]any)[0].(map[string]any)
	_, one := w.do("GET", "/api/enrollments/"+w.ada, "")
	for k, v := range one["enrollment"].(map[string]any) {
		if fmt.Sprint(item[k]) != fmt.Sprint(v) {
			t.Fatalf("item %s = %v, GET says %v", k, item[k], v)
		}
	}
	if keys(item) != "client_id,crm_membership_id,customer_email,customer_first_name,customer_id,customer_last_name,enrolled_at,expires_at,id,status,tier_id,tier_name" ||
		item["customer_email"] != "ada@example.com" || item["customer_first_name"] != "Ada" || item["customer_last_name"] != "Member" || item["tier_name"] != "Gold" {
		t.Fatalf("item %v", item)
	}

	// Paging: every page at most limit, the walk sees each enrollment once, newest first.
	for _, limit := range []int{1, 2} {
		if got := walk(t, w.harness, "/api/enrollments?status=active", limit); strings.Join(got, ",") != strings.Join([]string{w.cy, w.bo, w.ada}, ",") {
			t.Fatalf("limit %d: walked %v", limit, got)
		}
	}
	if got := walk(t, w.harness, "/api/enrollments?client_id="+w.c7, 1); strings.Join(got, ",") != w.bo+","+w.ada {
		t.Fatalf("walked one client: %v", got)
	}
}

func TestCancelEnrollment(t *testing.T) {
	t.Parallel()
	w := newOperatorWorld(t)
	ctx := context.Background()
	// bo's add has been synced: his cancel must go to the CRM. ada's add never started:
	// the queue's coalescing cancels both rows, no CRM call.
	if _, err := w.pool.Exec(ctx, `UPDATE crm_sync_queue SET status = 'completed', completed_at = now(), attempts = 1 WHERE enrollment_id = $1`, w.bo); err != nil {
		t.Fatal(err)
	}
	if _, err := w.pool.Exec(ctx, `UPDATE customers SET crm_id = 'c7-bo' WHERE id = $1`, w.boCust); err != nil {
		t.Fatal(err)
	}

	status, body := w.do("POST", "/api/enrollments/"+w.bo+"/cancel", "")
	if status != 200 || keys(body) != "enrollment,sync" {
		t.Fatalf("cancel: %d %v", status, body)
	}
	e := body["enrollment"].(map[string]any)
	sync := body["sync"].(map[string]any)
	if e["status"] != "cancelled" || e["id"] != w.bo || sync["status"] != "pending" {
		t.Fatalf("cancel answer %v", body)
	}
	// The answer is what GET shows.
	if _, got := w.do("GET", "/api/enrollments/"+w.bo, ""); fmt.Sprint(got) != fmt.Sprint(body) {
		t.Fatalf("GET after cancel %v, the cancel answered %v", got, body)
	}
	var row string
	if err := w.pool.QueryRow(ctx, `SELECT concat_ws(' ', action_type, status, priority, customer_crm_id, tier_id = $2)
		FROM crm_sync_queue WHERE id = $1`, int64(sync["queue_id"].(float64)), w.short).Scan(&row); err != nil {
		t.Fatal(err)
	}
	if row != "cancel_membership pending 0 c7-bo t" {
		t.Fatalf("queued %q", row)
	}
	var facts string
	if err := w.pool.QueryRow(ctx, `SELECT concat_ws(' ', e.ended_at IS NOT NULL, c.is_club_member, c.current_tier_id IS NULL,
			(SELECT string_agg(ev.event || '/' || ev.cause || '/' || (ev.old_tier_id = e.tier_id) || '/' || (ev.old_expires_at = e.expires_at), ',' ORDER BY ev.id)
			 FROM enrollment_events ev WHERE ev.enrollment_id = e.id AND ev.event <> 'enrolled'))
		FROM enrollments e JOIN customers c ON c.id = e.customer_id WHERE e.id = $1`, w.bo).Scan(&facts); err != nil {
		t.Fatal(err)
	}
	if facts != "t f t cancelled/api/true/true" {
		t.Fatalf("after the cancel: %q", facts)
	}

	// ada's add never started: coalesced, both rows cancelled, and sync says so.
	status, body = w.do("POST", "/api/enrollments/"+w.ada+"/cancel", "")
	if status != 200 || body["enrollment"].(map[string]any)["status"] != "cancelled" || body["sync"].(map[string]any)["status"] != "cancelled" {
		t.Fatalf("cancel of a never-synced enrollment: %d %v", status, body)
	}
	var pendingForAda int
	if err := w.pool.QueryRow(ctx, `SELECT count(*) FROM crm_sync_queue WHERE enrollment_id = $1 AND status <> 'cancelled'`, w.ada).Scan(&pendingForAda); err != nil {
		t.Fatal(err)
	}
	if pendingForAda != 0 {
		t.Fatalf("%d rows of ada's still to run, want the add and the cancel coalesced", pendingForAda)
	}

	// Refusals write nothing.
	before := w.rows()
	cases := []struct {
		name, id string
		status   int
		want     string
	}{
		{"already cancelled", w.bo, 409, "enrollment " + w.bo + " is cancelled; only an active enrollment can be cancelled"},
		{"unknown", "00000000-0000-4000-8000-000000000000", 404, "not found"},
		{"not a UUID", "bo", 400, "is not a UUID"},
	}
	for _, c := range cases {
		status, body := w.do("POST", "/api/enrollments/"+c.id+"/cancel", "")
		if status != c.status || !strings.Contains(fmt.Sprint(body["error"]), c.want) {
			t.Fatalf("%s: %d %v, want %d %q", c.name, status, body, c.status, c.want)
		}
		if c.status == 409 && body["status"] != "cancelled" {
			t.Fatalf("%s: the 409 does not say the status: %v", c.name, body)
		}
	}
	if status, _ := w.do("GET", "/api/enrollments/"+w.bo+"/cancel", ""); status != 405 {
		t.Fatalf("GET on cancel: %d, want 405", status)
	}
	if after := w.rows(); after != before {
		t.Fatalf("refusals wrote: %s, then %s", before, after)
	}

	// The list sees it, and the member may enroll again (one active enrollment per customer).
	if _, body := w.do("GET", "/api/enrollments?status=cancelled", ""); strings.Join(ids(body), ",") != w.bo+","+w.ada {
		t.Fatalf("cancelled list %v", body)
	}
	cust := `{"email":"bo@example.com","first_name":"Bo","last_name":"Member"}`
	if status, body := w.do("POST", "/api/enrollments", w.body(w.c7, w.gold, "", cust)); status != 201 {
		t.Fatalf("enroll again after the cancel: %d %v", status, body)
	}
}
