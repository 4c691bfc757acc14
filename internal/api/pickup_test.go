package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestShipTierNeedsAnAddress: a Commerce7 Ship membership for a customer Commerce7 does
// not know yet, with no address, could only fail at the CRM; it is a 422 that names the
// address fields, and writes nothing. A known CRM customer, a stored address, a Pickup
// tier and a Shopify tier need none.
func TestShipTierNeedsAnAddress(t *testing.T) {
	t.Parallel()
	w := newEnrollWorld(t)
	ctx := context.Background()
	status, body := w.do("POST", "/api/clients/"+w.c7+"/tiers",
		`{"name":"Pickup","rank":3,"duration_months":12,"c7_club_id":"c1ab0000-0000-4000-8000-000000000006","c7_delivery_method":"Pickup","c7_pickup_location_id":"loc-napa"}`)
	if status != 201 || body["c7_pickup_location_id"] != "loc-napa" {
		t.Fatalf("pickup tier: %d %v", status, body)
	}
	pickup := body["id"].(string)
	// Customers the winery already has: one known to Commerce7, one whose address an
	// earlier enrollment brought.
	if _, err := w.pool.Exec(ctx, `INSERT INTO customers (client_id, email, crm_id) VALUES ($1, 'known@example.com', 'c7-known')`, w.c7); err != nil {
		t.Fatal(err)
	}
	if _, err := w.pool.Exec(ctx, `INSERT INTO customers (client_id, email, address) VALUES ($1, 'housed@example.com',
		'{"address":"1 Vine St","city":"Napa","state_code":"CA","zip_code":"94558","country_code":"US"}')`, w.c7); err != nil {
		t.Fatal(err)
	}
	const address = `"address":{"address":"2 Cask Rd","city":"Sonoma","state_code":"CA","zip_code":"95476","country_code":"US"}`
	person := func(email, extra string) string {
		return `{"email":"` + email + `","first_name":"Ada","last_name":"Lovelace"` + extra + `}`
	}
	cases := []struct {
		name, client, tier, customer string
		status                       int
		msg                          string
	}{
		{"Ship, new customer, no address", w.c7, w.gold, person("new@example.com", ""), 422, "customer.address"},
		{"Ship, new customer, with an address", w.c7, w.gold, person("addr@example.com", ","+address), 201, ""},
		{"Ship, a crm_id in the request", w.c7, w.gold, person("crm@example.com", `,"crm_id":"c7-crm"`), 201, ""},
		{"Ship, a stored crm_id", w.c7, w.gold, person("KNOWN@example.com", ""), 201, ""},
		{"Ship, a stored address", w.c7, w.gold, person("housed@example.com", ""), 201, ""},
		{"Pickup, no address", w.c7, pickup, person("pick@example.com", ""), 201, ""},
		{"Shopify, no address", w.shop, w.shopTag, person("shop@example.com", ""), 201, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := w.rows()
			status, body := w.do("POST", "/api/enrollments", w.body(c.client, c.tier, "", c.customer))
			if status != c.status || !strings.Contains(fmt.Sprint(body["error"]), c.msg) {
				t.Fatalf("%d %v, want %d with %q", status, body, c.status, c.msg)
			}
			if status != 201 {
				for _, field := range []string{"address", "city", "zip_code", "country_code", "crm_id"} {
					if !strings.Contains(body["error"].(string), field) {
						t.Errorf("the error does not say to send %s: %v", field, body["error"])
					}
				}
				if after := w.rows(); after != before {
					t.Fatalf("a refused enrollment wrote: %s, was %s", after, before)
				}
			}
		})
	}
}
