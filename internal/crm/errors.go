package crm

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Class is what a CRM failure means for the queue row.
type Class int

const (
	// Retryable: the CRM may answer next time (timeout, connection error, 5xx). The row is
	// retried with backoff.
	Retryable Class = iota
	// Throttled: the CRM said "too many requests, wait RetryAfter" (429, Shopify's
	// THROTTLED). The row waits without spending an attempt; the client pauses.
	Throttled
	// Permanent: no retry can fix it (400/401/403/404/422, an error in a 200 answer, a
	// userError). The row fails at once with the CRM's message.
	Permanent
)

func (c Class) String() string {
	switch c {
	case Throttled:
		return "throttled"
	case Permanent:
		return "permanent"
	default:
		return "retryable"
	}
}

// Error is a failed CRM call.
type Error struct {
	Class      Class
	CRM        string // "commerce7", "shopify"
	Op         string // what we were doing: "create club membership"
	Status     int    // HTTP status; 0 when there was no answer
	Message    string // the CRM's own words, or the transport error's
	RetryAfter time.Duration
	Err        error // the transport error, if any
}

// Error is the error's text, cleaned (valid UTF-8, no NUL, at most MaxMessage bytes)
// whoever built it: it ends up in error_message and the logs.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.CRM)
	b.WriteString(": ")
	b.WriteString(e.Op)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return CleanText(b.String(), MaxMessage)
}

func (e *Error) Unwrap() error { return e.Err }

// HTTPStatus lets the queue record the CRM's status in the attempt history.
func (e *Error) HTTPStatus() int { return e.Status }

// ClassOf says what err means for the row. Errors that are not CRM errors (a bug, a
// database hiccup while loading the row) are retryable: a retry costs little, a wrongly
// failed row needs an operator.
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return Retryable
}

// StatusClass classifies an HTTP status that is not a success.
func StatusClass(status int) Class {
	switch {
	case status == http.StatusTooManyRequests:
		return Throttled
	case status == http.StatusRequestTimeout, status == http.StatusTooEarly, status >= 500:
		return Retryable
	case status >= 400:
		// 400, 401, 403, 404, 409, 422 …: the request itself is wrong, or our credentials
		// are; sending it again changes nothing.
		return Permanent
	case status >= 300 && status <= 399:
		// Our clients never follow redirects (outbound.NoRedirects): a redirect could carry the
		// credentials to another host. The CRMs' APIs do not redirect, so one means the
		// configured URL is wrong (http for https, a moved endpoint); retrying the same URL
		// changes nothing, and an operator must fix the configuration.
		return Permanent
	default:
		// A 1xx we did not ask for: something between us and the CRM misbehaves.
		return Retryable
	}
}

// RedirectError is the Permanent error for a 3xx answer (see outbound.NoRedirects). It names the
// host the CRM pointed at, never the full Location, which may carry anything.
func RedirectError(crmName, op string, resp *http.Response) *Error {
	to := "no Location"
	if loc, err := resp.Location(); err == nil {
		to = loc.Scheme + "://" + loc.Host
	}
	return &Error{Class: Permanent, CRM: crmName, Op: op, Status: resp.StatusCode,
		Message: fmt.Sprintf("redirected to %s; redirects are never followed (they could carry the credentials to another host): check the API URL",
			CleanText(to, MaxQuoted))}
}

// DefaultRetryAfter is the wait when a 429 carries no usable Retry-After.
const DefaultRetryAfter = 60 * time.Second

// RetryAfter reads a Retry-After header: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return DefaultRetryAfter
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return max(time.Duration(s*float64(time.Second)), time.Second)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), time.Second)
	}
	return DefaultRetryAfter
}
