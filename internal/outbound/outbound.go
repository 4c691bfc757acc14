// Package outbound holds what every HTTP client tiersync builds for calls to the outside
// (the CRMs, the alert webhook) must share.
package outbound

import (
	"net/http"
	"time"
)

// NoRedirects returns a client that never follows a redirect: a copy of hc (nil: a new
// client with timeout) whose CheckRedirect hands the 3xx answer back to the caller. Go's
// client keeps custom headers (X-Shopify-Access-Token, tenant) on a redirect to another
// host, so following one would give the credentials away, and an alert's text would go
// wherever the answer pointed. A copy, so a client passed in configuration is not changed
// for its other users.
func NoRedirects(hc *http.Client, timeout time.Duration) *http.Client {
	var c http.Client
	if hc != nil {
		c = *hc
	} else {
		c.Timeout = timeout
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}
