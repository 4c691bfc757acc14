package membership

import (
	"strings"
	"testing"

	"tiersync/internal/apperr"
)

func ptr[T any](v T) *T { return &v }

func TestNewClientValidate(t *testing.T) {
	cases := []struct {
		name string
		in   NewClient
		kind apperr.Kind // Internal: valid
		want string      // tenant as stored, when valid
	}{
		{"commerce7", NewClient{Name: "W", CRMType: CRMCommerce7, Tenant: " spectrum "}, apperr.Internal, "spectrum"},
		{"shopify lower-cased", NewClient{Name: "S", CRMType: CRMShopify, Tenant: "Shop.MyShopify.com", ShopifyAccessToken: ptr("t")}, apperr.Internal, "shop.myshopify.com"},
		{"no name", NewClient{CRMType: CRMCommerce7, Tenant: "t"}, apperr.BadRequest, ""},
		{"no crm", NewClient{Name: "W", Tenant: "t"}, apperr.BadRequest, ""},
		{"unknown crm", NewClient{Name: "W", CRMType: "hubspot", Tenant: "t"}, apperr.Invalid, ""},
		{"long name", NewClient{Name: strings.Repeat("n", 201), CRMType: CRMCommerce7, Tenant: "t"}, apperr.Invalid, ""},
		{"bad tenant", NewClient{Name: "W", CRMType: CRMCommerce7, Tenant: "a/b"}, apperr.Invalid, ""},
		{"shopify no token", NewClient{Name: "S", CRMType: CRMShopify, Tenant: "s.myshopify.com"}, apperr.Invalid, ""},
		{"shopify blank token", NewClient{Name: "S", CRMType: CRMShopify, Tenant: "s.myshopify.com", ShopifyAccessToken: ptr(" ")}, apperr.Invalid, ""},
		{"rate too high", NewClient{Name: "W", CRMType: CRMCommerce7, Tenant: "t", RateLimitPerMinute: ptr(100_001)}, apperr.Invalid, ""},
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
	cases := []struct {
		name     string
		crm      string
		in       NewTier
		kind     apperr.Kind
		delivery string
	}{
		{"c7 default Ship", CRMCommerce7, NewTier{Name: "G", Rank: 1, DurationMonths: 12, C7ClubID: ptr("club")}, apperr.Internal, DeliveryShip},
		{"c7 Pickup", CRMCommerce7, NewTier{Name: "G", Rank: 1, DurationMonths: 12, C7ClubID: ptr("club"), C7DeliveryMethod: ptr("Pickup")}, apperr.Internal, DeliveryPickup},
		{"shopify", CRMShopify, NewTier{Name: "G", Rank: 0, DurationMonths: 1, ShopifyTag: ptr("vip")}, apperr.Internal, ""},
		{"blank name", CRMCommerce7, NewTier{Name: " ", Rank: 1, DurationMonths: 12, C7ClubID: ptr("c")}, apperr.BadRequest, ""},
		{"duration 0", CRMCommerce7, NewTier{Name: "G", Rank: 1, C7ClubID: ptr("c")}, apperr.Invalid, ""},
		{"duration huge", CRMCommerce7, NewTier{Name: "G", Rank: 1, DurationMonths: 1201, C7ClubID: ptr("c")}, apperr.Invalid, ""},
		{"delivery lower-case", CRMCommerce7, NewTier{Name: "G", Rank: 1, DurationMonths: 12, C7ClubID: ptr("c"), C7DeliveryMethod: ptr("ship")}, apperr.Invalid, ""},
		{"blank club", CRMCommerce7, NewTier{Name: "G", Rank: 1, DurationMonths: 12, C7ClubID: ptr(" ")}, apperr.Invalid, ""},
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

func TestParseDecimalCents(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"12", 1200, true}, {"12.3", 1230, true}, {"12.30", 1230, true}, {"0.05", 5, true},
		{"1234567.89", 123456789, true}, {"100000000.00", 10000000000, true},
		{"", 0, false}, {"-1.00", 0, false}, {"+1", 0, false}, {"1e3", 0, false}, {"1.234", 0, false},
		{"1.", 0, false}, {".5", 0, false}, {"1,00", 0, false}, {" 1", 0, false}, {"NaN", 0, false},
		{"100000000.01", 0, false}, {"99999999999999999999", 0, false},
	}
	for _, c := range cases {
		got, err := ParseDecimalCents(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseDecimalCents(%q) = %d, %v; want %d ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}
