package api

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"tiersync/internal/apperr/apperrtest"
	"tiersync/internal/membership"
)

// The fuzz targets feed the parsers what a caller could send. They must never panic, and
// whatever they refuse must be a client error (a 4xx), never an internal one. `make test`
// runs each seed corpus (and testdata/fuzz) as a test; `make fuzz` explores for a while.

// FuzzJSONText: what checkJSONText lets through is text PostgreSQL can store: valid
// UTF-8 without a NUL in any decoded string (jsonb and text refuse both), and it never
// panics on a half-written escape or number.
func FuzzJSONText(f *testing.F) {
	for _, s := range []string{
		`{"a":"b"}`, `{"a":"\u0000"}`, `{"a":"\\u0000"}`, `{"a":"\ud83d\ude00"}`, `{"a":"\ud800"}`, `{"a":"\udc00x"}`,
		`{"a":"\ud800\u0041"}`, `[1e1000000]`, `[1e-20000]`, `[1.5e+3]`, `"\u00"`, `"\`, "\"caf\xe9\"", `[[[[]]]]`, `{"a":"\"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		err := checkJSONText(raw)
		apperrtest.ClientError(t, err)
		if err != nil || !json.Valid(raw) {
			return
		}
		if !utf8.Valid(raw) {
			t.Fatalf("accepted invalid UTF-8: %q", raw)
		}
		var v any
		if json.Unmarshal(raw, &v) == nil && holdsNUL(v) {
			t.Fatalf("accepted a NUL: %q", raw)
		}
	})
}

func holdsNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.ContainsRune(v, 0)
	case []any:
		for _, e := range v {
			if holdsNUL(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range v {
			if strings.ContainsRune(k, 0) || holdsNUL(e) {
				return true
			}
		}
	}
	return false
}

// FuzzCRMID: an accepted CRM id is safe in a URL path: nothing to escape, and no "." or
// ".." segment (Commerce7 puts customer ids in its paths).
func FuzzCRMID(f *testing.F) {
	for _, s := range []string{"3c5f7a9e-1d2b-4c6e-8f0a-9b8c7d6e5f4a", "7001", "gid://shopify/Customer/7001", "..", ".", "a/../b",
		"gid://shopify/Customer/../1", "a b", "a%2F..", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		err := membership.CheckCRMID("id", id)
		apperrtest.ClientError(t, err)
		if err != nil {
			return
		}
		for _, seg := range strings.Split(id, "/") {
			if seg == "." || seg == ".." || url.PathEscape(seg) != seg {
				t.Fatalf("accepted %q: segment %q", id, seg)
			}
		}
	})
}

func FuzzCronForm(f *testing.F) {
	for _, s := range []struct{ ct, body string }{
		{"application/x-www-form-urlencoded", "action=trigger&job=process-expired-enrollments"},
		{"application/json", `{"action":"sync"}`}, {"", "action=test"}, {"text/plain", "x"}, {"application/json", `{"action":`},
		{"application/x-www-form-urlencoded", "%zz"}, {"", "action=trigger&job=reconcile-memberships&dry_run=maybe"},
	} {
		f.Add(s.ct, s.body)
	}
	f.Fuzz(func(t *testing.T, ct, body string) {
		r := httptest.NewRequest("POST", "/api/cron", strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		_, err := cronForm(r)
		apperrtest.ClientError(t, err)
	})
}

func FuzzEnrollmentBody(f *testing.F) {
	for _, s := range []string{
		`{"client_id":"00000000-0000-0000-0000-000000000001","tier_id":"00000000-0000-0000-0000-000000000002","customer":{"email":"a@b.co","first_name":"A","last_name":"B"}}`,
		`{"client_id":5}`, `{"customer":{"email":"x"}}`, `{"enrolled_at":"2030-01-01T00:00:00Z"}`, `{}`, `[`,
		`{"client_id":"00000000-0000-0000-0000-000000000001","tier_id":"00000000-0000-0000-0000-000000000002","customer":{"email":"a@b.co","first_name":"A","last_name":"B","address":{"address":"1","city":"c","zip_code":"1","country_code":"usa"}}}`,
		`{"client_id":"00000000-0000-0000-0000-000000000001","tier_id":"00000000-0000-0000-0000-000000000002","customer":{"email":"a@b.co","first_name":"A\u0000","last_name":"B","crm_id":"..","phone":"\ud800"}}`,
		`{"client_id":"00000000-0000-0000-0000-000000000001","tier_id":"00000000-0000-0000-0000-000000000002","customer":{"email":"a@b.co","first_name":"A","last_name":"B\n","crm_id":"gid://shopify/Customer/1"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/api/enrollments", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/json")
		var b enrollBody
		if err := decodeJSON(r, &b); err != nil {
			apperrtest.ClientError(t, err)
			return
		}
		in := membership.NewEnrollment{ClientID: b.ClientID, TierID: b.TierID, Customer: b.Customer}
		err := membership.ValidateEnrollment(&in)
		apperrtest.ClientError(t, err)
		if err != nil {
			return
		}
		// What passes fits the caps and the database.
		c := in.Customer
		texts := []string{c.Email, c.FirstName, c.LastName}
		if c.Phone != nil {
			texts = append(texts, *c.Phone)
		}
		if c.CRMID != nil {
			texts = append(texts, *c.CRMID)
		}
		if a := c.Address; a != nil {
			texts = append(texts, a.Address, a.Address2, a.City, a.StateCode, a.ZipCode, a.CountryCode)
		}
		for _, s := range texts {
			if !utf8.ValidString(s) || strings.ContainsRune(s, 0) || utf8.RuneCountInString(s) > membership.MaxEmailBytes {
				t.Fatalf("accepted %q", s)
			}
		}
	})
}
