package crm

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
)

func TestStatusClass(t *testing.T) {
	cases := []struct {
		status int
		want   Class
	}{
		{400, Permanent}, {401, Permanent}, {403, Permanent}, {404, Permanent}, {409, Permanent}, {422, Permanent},
		{408, Retryable}, {425, Retryable}, {500, Retryable}, {502, Retryable}, {503, Retryable}, {504, Retryable},
		{429, Throttled},
		{302, Retryable},
	}
	for _, c := range cases {
		if got := StatusClass(c.status); got != c.want {
			t.Errorf("StatusClass(%d) = %v, want %v", c.status, got, c.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		header string
		want   time.Duration
	}{
		{"", DefaultRetryAfter},
		{"30", 30 * time.Second},
		{"0", time.Second}, // never "retry at once": the CRM asked us to wait
		{"1.5", 1500 * time.Millisecond},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), time.Second},
		{"soon", DefaultRetryAfter},
		{"-5", DefaultRetryAfter},
	}
	for _, c := range cases {
		h := http.Header{}
		if c.header != "" {
			h.Set("Retry-After", c.header)
		}
		if got := RetryAfter(h, now); got != c.want {
			t.Errorf("Retry-After %q = %v, want %v", c.header, got, c.want)
		}
	}
}

func TestClassOfAndMessage(t *testing.T) {
	perm := &Error{Class: Permanent, CRM: "commerce7", Op: "create club membership", Status: 422,
		Message: "Validation error (clubId: Club not found)"}
	cases := []struct {
		err  error
		want Class
	}{
		{perm, Permanent},
		{fmt.Errorf("row #1: %w", perm), Permanent},
		{&Error{Class: Throttled, RetryAfter: time.Second}, Throttled},
		{context.DeadlineExceeded, Retryable},
		{fmt.Errorf("load: connection reset"), Retryable},
	}
	for _, c := range cases {
		if got := ClassOf(c.err); got != c.want {
			t.Errorf("ClassOf(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if got, want := perm.Error(), "commerce7: create club membership: HTTP 422: Validation error (clubId: Club not found)"; got != want {
		t.Fatalf("message %q, want %q", got, want)
	}
	if perm.HTTPStatus() != 422 {
		t.Fatal("HTTPStatus")
	}
}
