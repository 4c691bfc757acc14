package membership

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/apperr"
)

func ptr[T any](v T) *T { return &v }

func TestNewClientValidate(t *testing.T) {
	connect := func(context.Context, pgx.Tx, string) error { return nil }
	cases := []struct {
		name string
		in   NewClient
		kind apperr.Kind // Internal: valid
		want string      // tenant as stored, when valid
	}{
		{"commerce7", NewClient{Name: "W", CRMType: CRMCommerce7, Tenant: " spectrum "}, apperr.Internal, "spectrum"},
		{"shopify lower-cased", NewClient{Name: "S", CRMType: CRMShopify, Tenant: "Shop.MyShopify.com", Connect: connect}, apperr.Internal, "shop.myshopify.com"},
		{"no name", NewClient{CRMType: CRMCommerce7, Tenant: "t"}, apperr.BadRequest, ""},
		{"no crm", NewClient{Name: "W", Tenant: "t"}, apperr.BadRequest, ""},
		{"unknown crm", NewClient{Name: "W", CRMType: "hubspot", Tenant: "t"}, apperr.Invalid, ""},
		{"long name", NewClient{Name: strings.Repeat("n", 201), CRMType: CRMCommerce7, Tenant: "t"}, apperr.Invalid, ""},
		{"bad tenant", NewClient{Name: "W", CRMType: CRMCommerce7, Tenant: "a/b"}, apperr.Invalid, ""},
		{"a connection on commerce7", NewClient{Name: "W", CRMType: CRMCommerce7, Tenant: "t", Connect: connect}, apperr.Invalid, ""},
		{"rate too high", NewClient{Name: "W", CRMType: CRMCommerce7, Tenant: "t", RateLimitPerMinute: ptr(100_001)}, apperr.Invalid, ""},
		{"a currency, upper-cased", NewClient{Name: "W", CRMType: CRMCommerce7, Tenant: "t", Currency: ptr(" cad ")}, apperr.Internal, "t"},
		{"not a currency", NewClient{Name: "W", CRMType: CRMCommerce7, Tenant: "t", Currency: ptr("CA$")}, apperr.Invalid, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			err := in.validate()
			if got := apperr.KindOf(err); (err == nil) != (c.kind == apperr.Internal) || (err != nil && got != c.kind) {
				t.Fatalf("validate() = %v (kind %d), want kind %d", err, got, c.kind)
			}
			if err == nil && in.Tenant != c.want {
				t.Fatalf("tenant %q, want %q", in.Tenant, c.want)
			}
		})
	}
}

func TestNewTierValidate(t *testing.T) {
	const club = "c1ab0000-0000-4000-8000-000000000001"
	cases := []struct {
		name     string
		crm      string
		in       NewTier
		kind     apperr.Kind
		delivery string
	}{
		{"c7 default Ship", CRMCommerce7, NewTier{Name: "G", Rank: 1, DurationMonths: 12, C7ClubID: ptr(club)}, apperr.Internal, DeliveryShip},
		{"c7 Pickup", CRMCommerce7, NewTier{Name: "G", Rank: 1, DurationMonths: 12, C7ClubID: ptr(club), C7DeliveryMethod: ptr("Pickup"), C7PickupLocationID: ptr("loc-1")}, apperr.Internal, DeliveryPickup},
		{"c7 Pickup without location", CRMCommerce7, NewTier{Name: "G", Rank: 1, DurationMonths: 12, C7ClubID: ptr(club), C7DeliveryMethod: ptr("Pickup")}, apperr.Invalid, ""},
		{"c7 Pickup blank location", CRMCommerce7, NewTier{Name: "G", Rank: 1, DurationMonths: 12, C7ClubID: ptr(club), C7DeliveryMethod: ptr("Pickup"), C7PickupLocationID: ptr(" ")}, apperr.Invalid, ""},
		{"c7 Pickup location not an id", CRMCommerce7, NewTier{Name: "G", Rank: 1, DurationMonths: 12, C7ClubID: ptr(club), C7DeliveryMethod: ptr("Pickup"), C7PickupLocationID: ptr("../x")}, apperr.BadRequest, ""},
		{"c7 Ship with location", CRMCommerce7, NewTier{Name: "G", Rank: 1, DurationMonths: 12, C7ClubID: ptr(club), C7PickupLocationID: ptr("loc-1")}, apperr.Invalid, ""},
		{"location on shopify", CRMShopify, NewTier{Name: "G", Rank: 1, DurationMonths: 12, ShopifyTag: ptr("t"), C7PickupLocationID: ptr("loc-1")}, apperr.Invalid, ""},
		{"shopify", CRMShopify, NewTier{Name: "G", Rank: 0, DurationMonths: 1, ShopifyTag: ptr("vip")}, apperr.Internal, ""},
		{"blank name", CRMCommerce7, NewTier{Name: " ", Rank: 1, DurationMonths: 12, C7ClubID: ptr(club)}, apperr.BadRequest, ""},
		{"duration 0", CRMCommerce7, NewTier{Name: "G", Rank: 1, C7ClubID: ptr(club)}, apperr.Invalid, ""},
		{"duration huge", CRMCommerce7, NewTier{Name: "G", Rank: 1, DurationMonths: 1201, C7ClubID: ptr(club)}, apperr.Invalid, ""},
		{"delivery lower-case", CRMCommerce7, NewTier{Name: "G", Rank: 1, DurationMonths: 12, C7ClubID: ptr(club), C7DeliveryMethod: ptr("ship")}, apperr.Invalid, ""},
		{"blank club", CRMCommerce7, NewTier{Name: "G", Rank: 1, DurationMonths: 12, C7ClubID: ptr(" ")}, apperr.Invalid, ""},
		{"club a placeholder", CRMCommerce7, NewTier{Name: "G", Rank: 1, DurationMonths: 12, C7ClubID: ptr("club-gold")}, apperr.Invalid, ""},
		{"club a short id", CRMCommerce7, NewTier{Name: "G", Rank: 1, DurationMonths: 12, C7ClubID: ptr("1234")}, apperr.Invalid, ""},
		{"club a path", CRMCommerce7, NewTier{Name: "G", Rank: 1, DurationMonths: 12, C7ClubID: ptr("../club")}, apperr.BadRequest, ""},
		{"club in capitals", CRMCommerce7, NewTier{Name: "G", Rank: 1, DurationMonths: 12, C7ClubID: ptr(strings.ToUpper(club))}, apperr.Internal, DeliveryShip},
		{"long tag", CRMShopify, NewTier{Name: "G", Rank: 1, DurationMonths: 12, ShopifyTag: ptr(strings.Repeat("t", 256))}, apperr.Invalid, ""},
		{"delivery on shopify", CRMShopify, NewTier{Name: "G", Rank: 1, DurationMonths: 12, ShopifyTag: ptr("t"), C7DeliveryMethod: ptr("Ship")}, apperr.Invalid, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			err := in.validate(c.crm)
			if got := apperr.KindOf(err); (err == nil) != (c.kind == apperr.Internal) || (err != nil && got != c.kind) {
				t.Fatalf("validate() = %v (kind %d), want kind %d", err, got, c.kind)
			}
			if err == nil && c.delivery != "" && *in.C7DeliveryMethod != c.delivery {
				t.Fatalf("delivery %q, want %q", *in.C7DeliveryMethod, c.delivery)
			}
		})
	}
}

func TestCheckCRMID(t *testing.T) {
	cases := []struct {
		id string
		ok bool
	}{
		{"3c5f7a9e-1d2b-4c6e-8f0a-9b8c7d6e5f4a", true}, // Commerce7: UUIDs
		{"7001", true}, {"gid://shopify/Customer/7001", true}, {"gid://shopify/Order/5940139491234", true}, // Shopify
		{"c7-ada", true}, {"a.b_c:d@e+f", true}, {"...", true}, {strings.Repeat("a", 255), true},
		{"", false}, {".", false}, {"..", false}, {"a/b", false}, {"../customer", false}, {"a b", false}, {"a%2F", false},
		{"a\x00", false}, {"é", false}, {strings.Repeat("a", 256), false},
		{"gid://shopify/Customer/../1", false}, {"gid://shopify/Customer/1/x", false}, {"gid://other/Customer/1", false},
	}
	for _, c := range cases {
		err := CheckCRMID("id", c.id)
		if (err == nil) != c.ok || (err != nil && apperr.KindOf(err) != apperr.BadRequest) {
			t.Errorf("CheckCRMID(%q) = %v, want ok=%v (a 400 when not)", c.id, err, c.ok)
		}
	}
}

func TestCheckText(t *testing.T) {
	cases := []struct {
		v    string
		kind apperr.Kind // Internal: accepted
	}{
		{"Ada", apperr.Internal}, {strings.Repeat("é", 10), apperr.Internal}, {"", apperr.Internal},
		{strings.Repeat("é", 11), apperr.Invalid}, {"a\x00b", apperr.BadRequest}, {"a\nb", apperr.BadRequest},
		{"a\u0085b", apperr.BadRequest}, {"caf\xe9", apperr.BadRequest},
	}
	for _, c := range cases {
		err := checkText("f", c.v, 10)
		if got := apperr.KindOf(err); (err == nil) != (c.kind == apperr.Internal) || (err != nil && got != c.kind) {
			t.Errorf("checkText(%q) = %v (kind %d), want kind %d", c.v, err, got, c.kind)
		}
	}
}

func TestCleanName(t *testing.T) {
	cases := []struct{ in, want string }{
		{" Ada ", "Ada"}, {"A\tB\nC", "A B C"}, {"caf\xe9", "caf\uFFFD"},
		{strings.Repeat("ท", 250), strings.Repeat("ท", MaxNameChars)},
	}
	for _, c := range cases {
		if got := cleanName(c.in); got != c.want {
			t.Errorf("cleanName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestNewEnrollmentCaps: the caps of the customer's fields, at and one over the limit.
func TestNewEnrollmentCaps(t *testing.T) {
	base := func() NewEnrollment {
		return NewEnrollment{ClientID: "00000000-0000-0000-0000-000000000001", TierID: "00000000-0000-0000-0000-000000000002",
			Customer: &NewCustomer{Email: "a@b.co", FirstName: "A", LastName: "B"}}
	}
	addr := func(f func(a *Address)) func(*NewCustomer) {
		return func(c *NewCustomer) {
			c.Address = &Address{Address: "1 Vine", City: "Napa", StateCode: "CA", ZipCode: "94558", CountryCode: "US"}
			f(c.Address)
		}
	}
	cases := []struct {
		name string
		edit func(*NewCustomer)
		kind apperr.Kind
	}{
		{"first name at the cap", func(c *NewCustomer) { c.FirstName = strings.Repeat("é", MaxNameChars) }, apperr.Internal},
		{"first name over", func(c *NewCustomer) { c.FirstName = strings.Repeat("é", MaxNameChars+1) }, apperr.Invalid},
		{"last name over", func(c *NewCustomer) { c.LastName = strings.Repeat("b", MaxNameChars+1) }, apperr.Invalid},
		{"name with a NUL", func(c *NewCustomer) { c.LastName = "B\x00" }, apperr.BadRequest},
		{"phone at the cap", func(c *NewCustomer) { c.Phone = ptr(strings.Repeat("1", MaxPhoneChars)) }, apperr.Internal},
		{"phone over", func(c *NewCustomer) { c.Phone = ptr(strings.Repeat("1", MaxPhoneChars+1)) }, apperr.Invalid},
		{"email at the cap", func(c *NewCustomer) { c.Email = strings.Repeat("a", MaxEmailBytes-5) + "@b.co" }, apperr.Internal},
		{"email over", func(c *NewCustomer) { c.Email = strings.Repeat("a", MaxEmailBytes-4) + "@b.co" }, apperr.BadRequest},
		{"crm_id a path", func(c *NewCustomer) { c.CRMID = ptr("../x") }, apperr.BadRequest},
		{"email with a line separator", func(c *NewCustomer) { c.Email = "a\u2028@b.co" }, apperr.BadRequest},
		{"email with an ideographic space", func(c *NewCustomer) { c.Email = "a@b\u3000co" }, apperr.BadRequest},
		{"address at the cap", addr(func(a *Address) { a.Address = strings.Repeat("a", MaxAddressChars) }), apperr.Internal},
		{"address2 over", addr(func(a *Address) { a.Address2 = strings.Repeat("a", MaxAddressChars+1) }), apperr.Invalid},
		{"zip over", addr(func(a *Address) { a.ZipCode = strings.Repeat("1", MaxAddressChars+1) }), apperr.Invalid},
		{"city with a control character", addr(func(a *Address) { a.City = "Na\x07pa" }), apperr.BadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := base()
			c.edit(in.Customer)
			err := ValidateEnrollment(&in)
			if got := apperr.KindOf(err); (err == nil) != (c.kind == apperr.Internal) || (err != nil && got != c.kind) {
				t.Fatalf("validate() = %v (kind %d), want kind %d", err, got, c.kind)
			}
		})
	}
}

func TestOrderEventValidate(t *testing.T) {
	ok := func() OrderEvent {
		return OrderEvent{Provider: CRMShopify, ExternalID: "ev-1", Topic: "orders/paid", OrderVersion: "1@v/paid",
			Order: Order{CRMOrderID: "1", TotalCents: MaxOrderCents, Currency: "USD", FirstName: "A\tB"}}
	}
	cases := []struct {
		name string
		edit func(*OrderEvent)
		ok   bool
	}{
		{"at the cap", func(*OrderEvent) {}, true},
		{"a cent over", func(e *OrderEvent) { e.Order.TotalCents = MaxOrderCents + 1 }, false},
		{"negative", func(e *OrderEvent) { e.Order.TotalCents = -1 }, false},
		{"order id a path", func(e *OrderEvent) { e.Order.CRMOrderID = "../1" }, false},
		{"customer id ..", func(e *OrderEvent) { e.Order.CustomerCRMID = ".." }, false},
		{"currency not a code", func(e *OrderEvent) { e.Order.Currency = "usd" }, false},
		{"no event id", func(e *OrderEvent) { e.ExternalID = "" }, false},
		{"event id too long", func(e *OrderEvent) { e.ExternalID = strings.Repeat("e", maxExternalIDBytes+1) }, false},
		{"event id with a NUL", func(e *OrderEvent) { e.ExternalID = "e\x00" }, false},
		{"version too long", func(e *OrderEvent) { e.OrderVersion = strings.Repeat("v", maxExternalIDBytes+1) }, false},
		{"topic too long", func(e *OrderEvent) { e.Topic = strings.Repeat("t", maxTopicBytes+1) }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := ok()
			c.edit(&ev)
			err := ev.validate()
			if (err == nil) != c.ok || (err != nil && apperr.KindOf(err) != apperr.BadRequest) {
				t.Fatalf("validate() = %v, want ok=%v (a 400 when not)", err, c.ok)
			}
			if err == nil && ev.Order.FirstName != "A B" {
				t.Fatalf("names are cleaned, got %q", ev.Order.FirstName)
			}
		})
	}
}
