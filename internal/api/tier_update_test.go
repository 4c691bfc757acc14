package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func TestUpdateTier(t *testing.T) {
	t.Parallel()
	w := newOperatorWorld(t)
	ctx := context.Background()
	gold := "/api/clients/" + w.c7 + "/tiers/" + w.gold
	tier := func(id string) string {
		t.Helper()
		var s string
		if err := w.pool.QueryRow(ctx, `SELECT concat_ws(' ', name, rank, duration_months, min_purchase_cents, min_ltv_cents,
			coalesce(c7_club_id, '-'), coalesce(c7_delivery_method, '-'), coalesce(c7_pickup_location_id, '-'), coalesce(shopify_tag, '-'))
			FROM tiers WHERE id = $1`, id).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	var adaExpires string
	if err := w.pool.QueryRow(ctx, `SELECT expires_at::text FROM enrollments WHERE id = $1`, w.ada).Scan(&adaExpires); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, path, body string
		status           int
		want             string // the tier afterwards (as tier() prints it), or a substring of the error
	}{
		{"name, duration and amounts", gold, `{"name":" Gold Reserve ","duration_months":24,"min_purchase_cents":15000,"min_ltv_cents":90000}`, 200,
			"Gold Reserve 1 24 15000 90000 c1ab0000-0000-4000-8000-000000000001 Ship - -"},
		{"a free rank", gold, `{"rank":7}`, 200, "Gold Reserve 7 24 15000 90000 c1ab0000-0000-4000-8000-000000000001 Ship - -"},
		{"Pickup with its location", gold, `{"c7_delivery_method":"Pickup","c7_pickup_location_id":"loc-napa"}`, 200,
			"Gold Reserve 7 24 15000 90000 c1ab0000-0000-4000-8000-000000000001 Pickup loc-napa -"},
		{"back to Ship drops the location", gold, `{"c7_delivery_method":"Ship"}`, 200,
			"Gold Reserve 7 24 15000 90000 c1ab0000-0000-4000-8000-000000000001 Ship - -"},
		{"a new club (no membership at the CRM yet), in capitals", gold, `{"c7_club_id":"C1AB0000-0000-4000-8000-0000000000AA"}`, 200,
			"Gold Reserve 7 24 15000 90000 c1ab0000-0000-4000-8000-0000000000aa Ship - -"},

		{"the rank of another tier", gold, `{"rank":2}`, 409, "client already has a tier with rank 2"},
		{"the club of another tier", gold, `{"c7_club_id":"c1ab0000-0000-4000-8000-000000000008"}`, 409, "client already has a tier for Commerce7 club c1ab0000-0000-4000-8000-000000000008"},
		{"nothing to change", gold, `{}`, 400, "nothing to change"},
		{"an unknown field", gold, `{"nmae":"Gold"}`, 400, `unknown field "nmae"`},
		{"a wrong type", gold, `{"rank":"2"}`, 400, "rank must be an integer"},
		{"not JSON", gold, `{"rank":`, 400, "malformed JSON"},
		{"a blank name", gold, `{"name":"  "}`, 400, "name is required"},
		{"a negative rank", gold, `{"rank":-1}`, 422, "rank must be between 0 and"},
		{"duration 0", gold, `{"duration_months":0}`, 422, "duration_months must be between 1 and 1200"},
		{"a negative amount", gold, `{"min_ltv_cents":-5}`, 422, "min_ltv_cents must not be negative"},
		{"a club that is not a Commerce7 id", gold, `{"c7_club_id":"club-gold"}`, 422, "Commerce7 ids are UUIDs"},
		{"a club that is a path", gold, `{"c7_club_id":"../x"}`, 400, "c7_club_id"},
		{"a Shopify tag on a Commerce7 tier", gold, `{"shopify_tag":"vip"}`, 422, "shopify_tag does not fit a commerce7 client"},
		{"an unknown delivery", gold, `{"c7_delivery_method":"Drone"}`, 422, `c7_delivery_method "Drone" is not one of Ship, Pickup`},
		{"Pickup without a location", gold, `{"c7_delivery_method":"Pickup"}`, 422, "a Pickup tier needs c7_pickup_location_id"},
		{"a location on a Ship tier", gold, `{"c7_pickup_location_id":"loc-1"}`, 422, "only for Pickup tiers"},
		{"a club on a Shopify tier", "/api/clients/" + w.shop + "/tiers/" + w.shopTag, `{"c7_club_id":"c1ab0000-0000-4000-8000-000000000001"}`, 422, "do not fit a shopify client"},
		{"a tag with a comma", "/api/clients/" + w.shop + "/tiers/" + w.shopTag, `{"shopify_tag":"a,b"}`, 422, "without commas"},
		{"a tier of another client", "/api/clients/" + w.shop + "/tiers/" + w.gold, `{"name":"X"}`, 404, "tier " + w.gold + " of client " + w.shop + " not found"},
		{"an unknown tier", "/api/clients/" + w.c7 + "/tiers/00000000-0000-4000-8000-000000000000", `{"name":"X"}`, 404, "not found"},
		{"an unknown client", "/api/clients/00000000-0000-4000-8000-000000000000/tiers/" + w.gold, `{"name":"X"}`, 404, "client 00000000-0000-4000-8000-000000000000 not found"},
		{"a tier id not a UUID", "/api/clients/" + w.c7 + "/tiers/gold", `{"name":"X"}`, 400, `tier id "gold" is not a UUID`},
		{"a client id not a UUID", "/api/clients/napa/tiers/" + w.gold, `{"name":"X"}`, 400, "is not a UUID"},
	}
	for _, c := range cases {
		id := c.path[strings.LastIndexByte(c.path, '/')+1:]
		before := tier(w.gold) + " | " + tier(w.short) + " | " + tier(w.shopTag)
		status, body := w.do("PATCH", c.path, c.body)
		if c.status == 200 {
			if status != 200 || body["id"] != id || tier(id) != c.want {
				t.Fatalf("%s: %d %v, tier %q, want %q", c.name, status, body, tier(id), c.want)
			}
			continue
		}
		if status != c.status || !strings.Contains(fmt.Sprint(body["error"]), c.want) {
			t.Fatalf("%s: %d %v, want %d %q", c.name, status, body, c.status, c.want)
		}
		if after := tier(w.gold) + " | " + tier(w.short) + " | " + tier(w.shopTag); after != before {
			t.Fatalf("%s: refused, yet the tiers changed: %q, then %q", c.name, before, after)
		}
	}
	// A new duration is for enrollments from now on: ada's stays.
	var expires string
	if err := w.pool.QueryRow(ctx, `SELECT expires_at::text FROM enrollments WHERE id = $1`, w.ada).Scan(&expires); err != nil {
		t.Fatal(err)
	}
	if expires != adaExpires {
		t.Fatalf("ada's expires_at moved from %s to %s with the tier's duration", adaExpires, expires)
	}

	// Once the CRM holds a membership under the club, the club stays: those members'
	// cancels would look in the new club. Anything else may still change.
	if _, err := w.pool.Exec(ctx, `UPDATE enrollments SET crm_membership_id = 'm-1' WHERE id = $1`, w.ada); err != nil {
		t.Fatal(err)
	}
	status, body := w.do("PATCH", gold, `{"c7_club_id":"c1ab0000-0000-4000-8000-0000000000bb"}`)
	if status != 409 || body["active_enrollments"] != float64(1) || !strings.Contains(fmt.Sprint(body["error"]), "make a new tier instead") {
		t.Fatalf("a club change under a live membership: %d %v", status, body)
	}
	if status, body := w.do("PATCH", gold, `{"name":"Gold"}`); status != 200 || body["c7_club_id"] != "c1ab0000-0000-4000-8000-0000000000aa" {
		t.Fatalf("a rename of a tier with members: %d %v", status, body)
	}
	// Shopify: any active member may carry the tag already.
	shop := "/api/clients/" + w.shop + "/tiers/" + w.shopTag
	if status, body := w.do("PATCH", shop, `{"shopify_tag":"vip-2"}`); status != 409 || body["active_enrollments"] != float64(1) {
		t.Fatalf("a tag change under a member: %d %v", status, body)
	}
	if status, body := w.do("PATCH", shop, `{"rank":3,"name":"VIP+"}`); status != 200 || body["rank"] != float64(3) || body["shopify_tag"] != "vip" {
		t.Fatalf("a Shopify rename: %d %v", status, body)
	}

	// A tier made before the UUID rule keeps its club through a change of something else.
	var legacy string
	if err := w.pool.QueryRow(ctx, `INSERT INTO tiers (client_id, crm_type, name, rank, duration_months, c7_club_id, c7_delivery_method)
		VALUES ($1, 'commerce7', 'Old', 9, 12, 'club-old', 'Ship') RETURNING id`, w.c7).Scan(&legacy); err != nil {
		t.Fatal(err)
	}
	if status, body := w.do("PATCH", "/api/clients/"+w.c7+"/tiers/"+legacy, `{"name":"Old but gold"}`); status != 200 || body["c7_club_id"] != "club-old" {
		t.Fatalf("renaming a tier with an old club id: %d %v", status, body)
	}
	if status, body := w.do("PATCH", "/api/clients/"+w.c7+"/tiers/"+legacy, `{"c7_club_id":"club-new"}`); status != 422 {
		t.Fatalf("a new non-UUID club for an old tier: %d %v", status, body)
	}
}
