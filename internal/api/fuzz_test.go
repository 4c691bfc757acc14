package api

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"tiersync/internal/apperr"
	"tiersync/internal/membership"
)

// The fuzz targets feed the parsers what a caller could send. They must never panic, and
// whatever they refuse must be a client error (a 4xx), never an internal one. `make test`
// runs each seed corpus (and testdata/fuzz) as a test; `make fuzz` explores for a while.

func clientError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if k := apperr.KindOf(err); k == apperr.Internal {
		t.Fatalf("an input error classified as internal (500): %v", err)
	}
}

func FuzzCommerce7Order(f *testing.F) {
	for _, s := range []string{
		`{"id":"o1","total":6000,"orderPaidDate":"2026-11-20T10:00:00Z","updatedAt":"u","customer":{"email":"a@b.co"}}`,
		`{"id":"o1","total":"6000"}`, `{"id":"","total":1}`, `{"total":-1}`, `null`, `[]`, `{"id":"x","total":1e3}`,
		`{"id":"x","total":99999999999999999999}`, `{"id":"x","total":1,"orderPaidDate":"yesterday"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		o, err := parseC7Order(json.RawMessage(payload))
		clientError(t, err)
		if err == nil && (o.CRMOrderID == "" || o.TotalCents < 0) {
			t.Fatalf("accepted an order without an id or with a negative total: %+v", o)
		}
	})
}

func FuzzShopifyOrder(f *testing.F) {
	for _, s := range []string{
		`{"id":1001,"email":"bo@example.com","total_price":"60.00","financial_status":"paid","customer":{"id":7,"email":"bo@example.com"}}`,
		`{"id":1,"total_price":"-5"}`, `{"id":1,"total_price":"1e3"}`, `{"total_price":"1"}`, `{"id":"x","total_price":"1.234"}`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := parseShopifyOrder(body)
		clientError(t, err)
		if err == nil && (o.CRMOrderID == "" || o.TotalCents < 0 || o.TotalCents > membership.MaxOrderCents || o.version == "") {
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
		c, err := membership.ParseDecimalCents(s)
		if err == nil && (c < 0 || strings.ContainsAny(s, "-+eE ")) {
			t.Fatalf("%q accepted as %d", s, c)
		}
	})
}

func FuzzCronForm(f *testing.F) {
	for _, s := range []struct{ ct, body string }{
		{"application/x-www-form-urlencoded", "action=trigger&job=process-expired-enrollments"},
		{"application/json", `{"action":"sync"}`}, {"", "action=test"}, {"text/plain", "x"}, {"application/json", `{"action":`},
		{"application/x-www-form-urlencoded", "%zz"},
	} {
		f.Add(s.ct, s.body)
	}
	f.Fuzz(func(t *testing.T, ct, body string) {
		r := httptest.NewRequest("POST", "/api/cron", strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		_, _, err := cronForm(r)
		clientError(t, err)
	})
}

func FuzzEnrollmentBody(f *testing.F) {
	for _, s := range []string{
		`{"client_id":"00000000-0000-0000-0000-000000000001","tier_id":"00000000-0000-0000-0000-000000000002","customer":{"email":"a@b.co","first_name":"A","last_name":"B"}}`,
		`{"client_id":5}`, `{"customer":{"email":"x"}}`, `{"enrolled_at":"2030-01-01T00:00:00Z"}`, `{}`, `[`,
		`{"client_id":"00000000-0000-0000-0000-000000000001","tier_id":"00000000-0000-0000-0000-000000000002","customer":{"email":"a@b.co","first_name":"A","last_name":"B","address":{"address":"1","city":"c","zip_code":"1","country_code":"usa"}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/api/enrollments", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/json")
		var b enrollBody
		if err := decodeJSON(r, &b); err != nil {
			clientError(t, err)
			return
		}
		in := membership.NewEnrollment{ClientID: b.ClientID, TierID: b.TierID, Customer: b.Customer}
		clientError(t, membership.ValidateEnrollment(&in))
	})
}
