package outbound

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestNoRedirects(t *testing.T) {
	reached := false
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
	defer other.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL, http.StatusFound)
	}))
	defer redirector.Close()
	cases := []struct {
		name    string
		given   *http.Client
		timeout time.Duration
	}{
		{"own client takes the timeout", nil, 3 * time.Second},
		{"caller's client keeps its own", &http.Client{Timeout: 7 * time.Second}, 3 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NoRedirects(tc.given, tc.timeout)
			resp, err := c.Get(redirector.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusFound || reached {
				t.Fatalf("status %d, other host reached %v: the redirect was followed", resp.StatusCode, reached)
			}
			want := tc.timeout
			if tc.given != nil {
				want = tc.given.Timeout
				if tc.given.CheckRedirect != nil || c == tc.given {
					t.Fatal("the caller's client was changed")
				}
			}
			if c.Timeout != want {
				t.Fatalf("timeout %v, want %v", c.Timeout, want)
			}
		})
	}
}
