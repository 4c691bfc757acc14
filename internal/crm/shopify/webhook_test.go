package shopify

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"tiersync/internal/apperr/apperrtest"
	"tiersync/internal/crm"
)

// FuzzShopifyOrder feeds the order parser what a caller could send (testdata/fuzz keeps
// what it found). It must never panic; what it refuses is a client error; "paid" is
// decided from financial_status alone.
func FuzzShopifyOrder(f *testing.F) {
	for _, s := range []string{
		`{"id":1001,"email":"bo@example.com","total_price":"60.00","financial_status":"paid","customer":{"id":7,"email":"bo@example.com"}}`,
		`{"id":1,"total_price":"-5"}`, `{"id":1,"total_price":"1e3"}`, `{"total_price":"1"}`, `{"id":"x","total_price":"1.234"}`, `{`,
		`{"id":1e3,"total_price":"1","financial_status":"paid"}`, `{"id":1,"total_price":"1","financial_status":"pending","updated_at":"2026-11-20T10:00:00Z"}`,
		`{"id":1,"total_price":"1","customer":{"id":-1}}`, `{"id":1,"total_price":"1","financial_status":"partially_refunded"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := ParseOrderWebhook(body)
		apperrtest.ClientError(t, err)
		if err == nil && (o.CRMOrderID == "" || o.TotalCents < 0 || o.TotalCents > crm.MaxOrderCents || o.Version == "") {
			t.Fatalf("accepted %+v", o)
		}
		// "Paid" is financial_status == "paid", read the way the decoder reads it.
		var probe struct {
			FinancialStatus any `json:"financial_status"`
		}
		_ = json.Unmarshal(body, &probe)
		if err == nil && (o.PaidAt != nil) != (probe.FinancialStatus == "paid") {
			t.Fatalf("paid %v decided from something else than financial_status: %s", o.PaidAt != nil, body)
		}
	})
}

func FuzzDecimalCents(f *testing.F) {
	for _, s := range []string{"0", "12.30", "1.2", "-1", "1e2", "99999999999999999999", "", "."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseDecimalCents(s)
		if err == nil && (c < 0 || strings.ContainsAny(s, "-+eE ")) {
			t.Fatalf("%q accepted as %d", s, c)
		}
	})
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
		got, err := parseDecimalCents(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseDecimalCents(%q) = %d, %v; want %d ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestParseUninstalled(t *testing.T) {
	cases := []struct {
		body, err string
		want      Uninstalled
	}{
		{body: `{"id":548380009,"name":"Napa Cellars","email":"j@example.com","domain":"shop.example.com","myshopify_domain":"napa-cellars.myshopify.com","plan_name":"basic"}`,
			want: Uninstalled{ShopID: "548380009", ShopDomain: "napa-cellars.myshopify.com", Name: "Napa Cellars"}},
		{body: `{"id":"548380009","myshopify_domain":"a.myshopify.com"}`, err: "id must be a positive integer"},
		{body: `{"id":1}`, err: "myshopify_domain is required"},
		{body: `{"id":1,"myshopify_domain":"Evil.com/x"}`, err: "not a shop domain"},
		{body: `{"shop_id":1,"shop_domain":"a.myshopify.com"}`, err: "id is required"}, // a shop/redact body
		{body: `{"id":1,"myshopify_domain":"a.myshopify.com"} {}`, err: "single JSON object"},
		{body: `[1]`, err: "must be a JSON object"},
		{body: "{\"id\":1,\"myshopify_domain\":\"a.myshopify.com\",\"name\":\"\xff\"}", err: "not UTF-8"},
		{body: `{"id":1,"myshopify_domain":"a.myshopify.com","name":"a\u0000"}`, err: `\u0000`},
		{body: `{"id":1,"myshopify_domain":"a.myshopify.com","name":"a\nb"}`, err: "control character"},
		{body: `{"id":1,"myshopify_domain":"a.myshopify.com","name":"` + strings.Repeat("x", MaxWebhookBytes) + `"}`, err: "over 1048576 bytes"},
	}
	for _, c := range cases {
		got, err := ParseUninstalled([]byte(c.body))
		if c.err != "" {
			apperrtest.ClientError(t, err)
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%.80s: error %v, want %q", c.body, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%.80s: %+v %v, want %+v", c.body, got, err, c.want)
		}
	}
}

// The payloads of shopify.dev's privacy-law-compliance page.
const (
	dataRequestBody = `{"shop_id":954889,"shop_domain":"{shop}.myshopify.com","orders_requested":[299938,280263,220458],` +
		`"customer":{"id":191167,"email":"john@example.com","phone":"555-625-1199"},"data_request":{"id":9999}}`
	redactBody = `{"shop_id":954889,"shop_domain":"{shop}.myshopify.com","customer":{"id":191167,"email":"john@example.com",` +
		`"phone":"555-625-1199"},"orders_to_redact":[299938,280263,220458]}`
	shopRedactBody = `{"shop_id":954889,"shop_domain":"{shop}.myshopify.com"}`
)

func TestParsePrivacy(t *testing.T) {
	shop := func(s string) string { return strings.ReplaceAll(s, "{shop}", "napa") }
	cases := []struct {
		name, topic, body, err string
		want                   PrivacyRequest
	}{
		{name: "data request", topic: TopicCustomerDataRequest, body: shop(dataRequestBody), want: PrivacyRequest{
			Topic: TopicCustomerDataRequest, ShopID: "954889", ShopDomain: "napa.myshopify.com", CustomerID: "gid://shopify/Customer/191167",
			Email: "john@example.com", Phone: "555-625-1199", OrderIDs: []string{"299938", "280263", "220458"}, DataRequestID: "9999"}},
		{name: "customer redact", topic: TopicCustomerRedact, body: shop(redactBody), want: PrivacyRequest{
			Topic: TopicCustomerRedact, ShopID: "954889", ShopDomain: "napa.myshopify.com", CustomerID: "gid://shopify/Customer/191167",
			Email: "john@example.com", Phone: "555-625-1199", OrderIDs: []string{"299938", "280263", "220458"}}},
		{name: "redact by email only", topic: TopicCustomerRedact,
			body: `{"shop_id":954889,"shop_domain":"napa.myshopify.com","customer":{"email":"john@example.com"},"orders_to_redact":[]}`,
			want: PrivacyRequest{Topic: TopicCustomerRedact, ShopID: "954889", ShopDomain: "napa.myshopify.com", Email: "john@example.com", OrderIDs: []string{}}},
		{name: "shop redact", topic: TopicShopRedact, body: shop(shopRedactBody),
			want: PrivacyRequest{Topic: TopicShopRedact, ShopID: "954889", ShopDomain: "napa.myshopify.com"}},
		// The topic header is not signed: a signed body replayed under another topic.
		{name: "data request body as redact", topic: TopicCustomerRedact, body: shop(dataRequestBody), err: "belongs to another topic"},
		{name: "redact body as data request", topic: TopicCustomerDataRequest, body: shop(redactBody), err: "belongs to another topic"},
		{name: "shop redact body as customer redact", topic: TopicCustomerRedact, body: shop(shopRedactBody), err: "customer must be an object"},
		{name: "customer redact body as shop redact", topic: TopicShopRedact, body: shop(redactBody), err: "belongs to another topic"},
		{name: "uninstalled body as shop redact", topic: TopicShopRedact, body: `{"id":1,"myshopify_domain":"napa.myshopify.com"}`, err: "shop_id is required"},
		{name: "unknown topic", topic: "orders/paid", body: shop(shopRedactBody), err: "not a privacy topic"},
		{name: "string id", topic: TopicCustomerRedact, body: `{"shop_id":1,"shop_domain":"a.myshopify.com","customer":{"id":"191167"}}`, err: "customer.id must be a positive integer"},
		{name: "string order id", topic: TopicCustomerRedact, body: `{"shop_id":1,"shop_domain":"a.myshopify.com","customer":{"id":1},"orders_to_redact":["1"]}`, err: "orders_to_redact[0]"},
		{name: "orders not a list", topic: TopicCustomerRedact, body: `{"shop_id":1,"shop_domain":"a.myshopify.com","customer":{"id":1},"orders_to_redact":1}`, err: "must be a list"},
		{name: "negative shop id", topic: TopicShopRedact, body: `{"shop_id":-1,"shop_domain":"a.myshopify.com"}`, err: "shop_id must be a positive integer"},
		{name: "float id", topic: TopicShopRedact, body: `{"shop_id":1.5,"shop_domain":"a.myshopify.com"}`, err: "shop_id must be a positive integer"},
		{name: "no one named", topic: TopicCustomerRedact, body: `{"shop_id":1,"shop_domain":"a.myshopify.com","customer":{"email":" "}}`, err: "names no one"},
		{name: "no data request id", topic: TopicCustomerDataRequest, body: `{"shop_id":1,"shop_domain":"a.myshopify.com","customer":{"id":1},"data_request":{}}`, err: "data_request.id is required"},
		{name: "email not a string", topic: TopicCustomerRedact, body: `{"shop_id":1,"shop_domain":"a.myshopify.com","customer":{"email":5}}`, err: "customer.email must be a string"},
		{name: "long phone", topic: TopicCustomerRedact, body: `{"shop_id":1,"shop_domain":"a.myshopify.com","customer":{"phone":"` + strings.Repeat("1", 65) + `"}}`, err: "customer.phone is over 64 bytes"},
		{name: "no domain", topic: TopicShopRedact, body: `{"shop_id":1}`, err: "shop_domain is required"},
		{name: "malformed", topic: TopicShopRedact, body: `{"shop_id":`, err: "malformed JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParsePrivacy(c.topic, []byte(c.body))
			if c.err != "" {
				apperrtest.ClientError(t, err)
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", c.want) {
				t.Fatalf("got %#v, %v\nwant %#v", got, err, c.want)
			}
		})
	}
}

// FuzzShopifyPrivacy feeds the app/uninstalled and privacy parsers what a caller could
// send under any topic. They must never panic; what they refuse is a client error; what
// they accept has its topic's shape (a data request has its id, shop/redact names no
// customer) and only the forms the rest of tiersync relies on (numeric ids, a GID).
func FuzzShopifyPrivacy(f *testing.F) {
	topics := []string{TopicAppUninstalled, TopicCustomerDataRequest, TopicCustomerRedact, TopicShopRedact}
	for _, body := range []string{dataRequestBody, redactBody, shopRedactBody,
		`{"id":548380009,"name":"N","myshopify_domain":"a.myshopify.com"}`,
		`{"shop_id":1,"shop_domain":"a.myshopify.com","customer":{"id":null,"email":"a@b"},"orders_to_redact":null}`,
		`{"shop_id":"1"}`, `{`, `null`, `{"shop_id":1e3,"shop_domain":"a.b"}`} {
		for i := range topics {
			f.Add(uint8(i), []byte(strings.ReplaceAll(body, "{shop}", "napa")))
		}
	}
	numeric := func(s string) bool { return numericID.MatchString(s) && s[0] != '0' }
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		topic := topics[int(which)%len(topics)]
		if topic == TopicAppUninstalled {
			u, err := ParseUninstalled(body)
			apperrtest.ClientError(t, err)
			if err == nil && (!numeric(u.ShopID) || !shopDomain.MatchString(u.ShopDomain)) {
				t.Fatalf("accepted %+v", u)
			}
			return
		}
		r, err := ParsePrivacy(topic, body)
		apperrtest.ClientError(t, err)
		if err != nil {
			return
		}
		if r.Topic != topic || !numeric(r.ShopID) || !shopDomain.MatchString(r.ShopDomain) ||
			(r.CustomerID != "" && !numeric(strings.TrimPrefix(r.CustomerID, "gid://shopify/Customer/"))) {
			t.Fatalf("accepted %#v", r)
		}
		for _, id := range r.OrderIDs {
			if !numeric(id) {
				t.Fatalf("order id %q accepted", id)
			}
		}
		named := r.CustomerID != "" || strings.TrimSpace(r.Email) != "" || strings.TrimSpace(r.Phone) != ""
		switch topic {
		case TopicShopRedact:
			if named || r.OrderIDs != nil || r.DataRequestID != "" {
				t.Fatalf("shop/redact accepted with a customer: %#v", r)
			}
		case TopicCustomerDataRequest:
			if !named || !numeric(r.DataRequestID) {
				t.Fatalf("data request accepted without its customer or id: %#v", r)
			}
		case TopicCustomerRedact:
			if !named || r.DataRequestID != "" {
				t.Fatalf("redact accepted without its customer: %#v", r)
			}
		}
	})
}
