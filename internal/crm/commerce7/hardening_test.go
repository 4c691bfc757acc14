package commerce7_test

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
	"tiersync/internal/crm/commerce7"
)

// elsewhere is a second host a redirect points at; it records what reached it.
type elsewhere struct {
	mu   sync.Mutex
	hits int
	auth []string
}

func (e *elsewhere) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.hits++
	e.auth = append(e.auth, r.Header.Get("Authorization"))
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"customers":[],"total":0}`))
}

// TestNeverFollowsRedirects: a 307 to another host must not carry the Basic credentials
// there, whether the client is ours or one the caller passed in Config.HTTP; the call
// fails permanently with a message naming the redirect.
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
			c, err := commerce7.New(commerce7.Config{BaseURL: redirector.URL + "/v1", AppID: appID, Key: secret, HTTP: hc})
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = c.Provider("client-1", tenant).EnsureCustomer(context.Background(), crm.Customer{Email: "ann@example.com"})
			if err == nil || crm.ClassOf(err) != crm.Permanent || !strings.Contains(err.Error(), "redirect") ||
				!strings.Contains(err.Error(), "HTTP 307") {
				t.Fatalf("err = %v (%v), want a permanent error naming the redirect", err, crm.ClassOf(err))
			}
			other.mu.Lock()
			defer other.mu.Unlock()
			if other.hits != 0 {
				t.Fatalf("the redirect was followed: %d request(s) reached the other host, Authorization %q", other.hits, other.auth)
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
		want                    string
	}{
		{"raw body", "text/plain", "Bad Gateway\x00 from caf\xc3", "HTTP 502: Bad Gateway from caf\uFFFD"},
		{"JSON message with NUL", "application/json", `{"statusCode":502,"type":"x","message":"Bad\u0000 Gateway","errors":[]}`, "HTTP 502: Bad Gateway"},
		{"huge body", "text/html", strings.Repeat("é", 10000), "HTTP 502: éé"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				w.WriteHeader(http.StatusBadGateway)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c, err := commerce7.New(commerce7.Config{BaseURL: srv.URL + "/v1", AppID: appID, Key: secret})
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = c.Provider("client-1", tenant).EnsureCustomer(context.Background(), crm.Customer{Email: "ann@example.com"})
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
