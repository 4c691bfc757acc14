package shopify

import (
	"encoding/json"
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
