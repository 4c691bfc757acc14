package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func TestCustomers(t *testing.T) {
	t.Parallel()
	w := newOperatorWorld(t)
	ctx := context.Background()
	if _, err := w.pool.Exec(ctx, `INSERT INTO orders (client_id, crm_order_id, customer_id, total_cents, currency, paid_at)
		VALUES ($1, 'o-1', $2, 12345, 'USD', now())`, w.c7, w.adaCust); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 400)
	names := map[string]string{w.adaCust: "ada", w.boCust: "bo", w.cyCust: "cy"}
	cases := []struct {
		name   string
		query  string
		status int
		want   string // the customers in order, or a substring of the error
	}{
		{"everyone, newest first", "", 200, "cy,bo,ada"},
		{"one client", "client_id=" + w.c7, 200, "bo,ada"},
		{"an email in another case", "email=BO@example.com", 200, "bo"},
		{"an email of another client", "email=bo@example.com&client_id=" + w.shop, 200, ""},
		{"an unknown email", "email=zed@example.com", 200, ""},
		{"an unknown client", "client_id=00000000-0000-4000-8000-000000000000", 200, ""},
		{"part of an email", "email=example.com", 400, "is not an email address"},
		{"a client that is not a UUID", "client_id=napa", 400, `client_id "napa" is not a UUID`},
		{"a long client id, not echoed", "client_id=" + long, 400, "client_id is 400 bytes long; at most 36"},
		{"a long email, not echoed", "email=" + long, 400, "email is 400 bytes long; at most 254"},
		{"invalid UTF-8", "client_id=%ff", 400, "not valid UTF-8"},
		{"limit 0", "limit=0", 400, "limit must be an integer from 1 to 500"},
		{"limit not a number", "limit=ten", 400, "limit must be an integer from 1 to 500"},
		{"a cursor not ours", "cursor=abc", 400, "is not one this API returned"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := w.do("GET", "/api/customers?"+c.query, "")
			got := fmt.Sprint(body["error"])
			if status == 200 {
				var ns []string
				for _, id := range ids(body) {
					ns = append(ns, names[id])
				}
				got = strings.Join(ns, ",")
			}
			if status != c.status || (status == 200 && got != c.want) || (status != 200 && !strings.Contains(got, c.want)) {
				t.Fatalf("%d %q, want %d %q", status, got, c.status, c.want)
			}
			if strings.Contains(got, strings.Repeat("x", 100)) {
				t.Fatalf("a long value echoed: %q", got)
			}
		})
	}
	for _, limit := range []int{1, 2} {
		if got := walk(t, w.harness, "/api/customers?client_id=", limit); strings.Join(got, ",") != strings.Join([]string{w.cyCust, w.boCust, w.adaCust}, ",") {
			t.Fatalf("limit %d: walked %v", limit, got)
		}
	}

	_, body := w.do("GET", "/api/customers?email=ada@example.com", "")
	item := body["items"].([]any)[0].(map[string]any)
	if keys(item) != "address,client_id,created_at,crm_id,current_tier_id,current_tier_name,email,first_name,id,is_club_member,last_name,lifetime_value_cents,phone,updated_at" ||
		item["current_tier_name"] != "Gold" || item["is_club_member"] != true || item["address"].(map[string]any)["city"] != "Napa" {
		t.Fatalf("list item %v", item)
	}

	status, one := w.do("GET", "/api/customers/"+w.adaCust, "")
	if status != 200 || keys(one) != "address,client_id,created_at,crm_id,current_tier_id,current_tier_name,email,enrollments,first_name,id,is_club_member,last_name,lifetime_value_cents,orders,phone,updated_at" {
		t.Fatalf("GET customer: %d %v", status, one)
	}
	enrollments := one["enrollments"].([]any)
	orders := one["orders"].([]any)
	if len(enrollments) != 1 || len(orders) != 1 {
		t.Fatalf("customer %v", one)
	}
	e := enrollments[0].(map[string]any)
	o := orders[0].(map[string]any)
	if e["id"] != w.ada || e["tier_name"] != "Gold" || e["status"] != "active" || len(e["events"].([]any)) != 1 ||
		e["events"].([]any)[0].(map[string]any)["event"] != "enrolled" {
		t.Fatalf("enrollment %v", e)
	}
	if o["crm_order_id"] != "o-1" || o["total_cents"] != float64(12345) || o["currency"] != "USD" {
		t.Fatalf("order %v", o)
	}
	// After a cancel the customer page shows it, with its history.
	if status, body := w.do("POST", "/api/enrollments/"+w.ada+"/cancel", ""); status != 200 {
		t.Fatalf("cancel: %d %v", status, body)
	}
	_, one = w.do("GET", "/api/customers/"+w.adaCust, "")
	e = one["enrollments"].([]any)[0].(map[string]any)
	if one["is_club_member"] != false || one["current_tier_name"] != nil || e["status"] != "cancelled" || len(e["events"].([]any)) != 2 {
		t.Fatalf("customer after the cancel %v", one)
	}

	for _, c := range []struct {
		id     string
		status int
		want   string
	}{
		{"00000000-0000-4000-8000-000000000000", 404, "customer 00000000-0000-4000-8000-000000000000 not found"},
		{"ada", 400, `customer id "ada" is not a UUID`},
		{long, 400, `customer id "` + strings.Repeat("x", 64) + `…" is not a UUID`},
	} {
		status, body := w.do("GET", "/api/customers/"+c.id, "")
		if status != c.status || !strings.Contains(fmt.Sprint(body["error"]), c.want) {
			t.Fatalf("GET /api/customers/%.20s: %d %v, want %d %q", c.id, status, body, c.status, c.want)
		}
	}
}
