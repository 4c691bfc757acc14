package shopify_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"tiersync/internal/crm"
	"tiersync/internal/crm/shopify"
)

// elsewhere is a second host a redirect points at; it records the tokens that reached it.
type elsewhere struct {
	mu     sync.Mutex
	hits   int
	tokens []string
}

func (e *elsewhere) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.hits++
	e.tokens = append(e.tokens, r.Header.Get("X-Shopify-Access-Token"))
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"data":{"customers":{"nodes":[]}}}`))
}

// TestNeverFollowsRedirects: a 307 to another host must not carry the shop's access token
// there (Go's client keeps custom headers across hosts), whether the client is ours or
// the caller's; the call fails permanently with a message naming the redirect.
func TestNeverFollowsRedirects(t *testing.T) {
	cases := []struct {
		name string
		http func() *http.Client
	}{
		{"own client", func() *http.Client { return nil }},
		{"caller's client", func() *http.Client { return &http.Client{Timeout: 5 * time.Second} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			other := &elsewhere{}
			otherSrv := httptest.NewServer(other)
			defer otherSrv.Close()
			redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, otherSrv.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
			}))
			defer redirector.Close()

			hc := tc.http()
			c, err := shopify.New(shopify.Config{BaseURL: redirector.URL, HTTP: hc})
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = c.Provider("client-1", shop, token).EnsureCustomer(context.Background(), crm.Customer{Email: "ann@example.com"})
			if err == nil || crm.ClassOf(err) != crm.Permanent || !strings.Contains(err.Error(), "redirect") ||
				!strings.Contains(err.Error(), "HTTP 307") {
				t.Fatalf("err = %v (%v), want a permanent error naming the redirect", err, crm.ClassOf(err))
			}
			other.mu.Lock()
			defer other.mu.Unlock()
			if other.hits != 0 {
				t.Fatalf("the redirect was followed: %d request(s) reached the other host, tokens %q", other.hits, other.tokens)
			}
			if hc != nil && hc.CheckRedirect != nil {
				t.Fatal("the caller's client was changed")
			}
		})
	}
}

// TestHostileErrorBodyIsCleaned: whatever bytes an error answer holds, the error's text is
// valid UTF-8 without NUL, capped, and keeps the readable part.
func TestHostileErrorBodyIsCleaned(t *testing.T) {
	cases := []struct {
		name, contentType, body string
		status                  int
		want                    string
	}{
		{"raw body", "text/plain", "Bad Gateway\x00 from caf\xc3", 502, "HTTP 502: Bad Gateway from caf\uFFFD"},
		{"GraphQL errors with NUL", "application/json", `{"errors":[{"message":"Access\u0000 denied"}]}`, 403, "HTTP 403: Access denied"},
		{"errors in a 200", "application/json", `{"errors":[{"message":"Field\u0000 bad ` + strings.Repeat("é", 1000) + `"}]}`, 200, "Field bad éé"},
		{"huge body", "text/html", strings.Repeat("é", 10000), 503, "HTTP 503: éé"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c, err := shopify.New(shopify.Config{BaseURL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = c.Provider("client-1", shop, token).EnsureCustomer(context.Background(), crm.Customer{Email: "ann@example.com"})
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !utf8.ValidString(msg) || strings.IndexByte(msg, 0) >= 0 || len(msg) > crm.MaxMessage || !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q (%d bytes): want clean, containing %q", msg, len(msg), tc.want)
			}
			var e *crm.Error
			if !errors.As(err, &e) || len(e.Message) > crm.MaxQuoted {
				t.Fatalf("quoted answer of %d bytes, want at most %d", len(e.Message), crm.MaxQuoted)
			}
		})
	}
}

// TestUnusableIDIsRefused: an id we could not store (a NUL in it) is an error, not an id.
func TestUnusableIDIsRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":{"customers":{"nodes":[{"id":"gid://shopify/Customer/1\u0000","email":"ann@example.com",` +
			`"defaultEmailAddress":{"emailAddress":"ann@example.com"}}]}}}`))
	}))
	defer srv.Close()
	c, err := shopify.New(shopify.Config{BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := c.Provider("client-1", shop, token).EnsureCustomer(context.Background(), crm.Customer{Email: "ann@example.com"})
	if err == nil || crm.ClassOf(err) != crm.Retryable || !strings.Contains(err.Error(), "control characters") || strings.IndexByte(err.Error(), 0) >= 0 {
		t.Fatalf("id %q, err %v: want a retryable error", id, err)
	}
}
