package crm

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestStatusClass(t *testing.T) {
	cases := []struct {
		status int
		want   Class
	}{
		{400, Permanent}, {401, Permanent}, {403, Permanent}, {404, Permanent}, {409, Permanent}, {422, Permanent},
		{408, Retryable}, {425, Retryable}, {500, Retryable}, {502, Retryable}, {503, Retryable}, {504, Retryable},
		{429, Throttled},
		{302, Permanent}, {307, Permanent},
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

func TestCleanText(t *testing.T) {
	cases := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"clean text is kept", "café ok", 100, "café ok"},
		{"NUL dropped", "a\x00b\x00", 100, "ab"},
		{"a sequence cut mid-character", "caf\xc3", 100, "caf\uFFFD"},
		{"a run of bad bytes is one replacement", "\xff\xfe\xfdx", 100, "\uFFFDx"},
		{"cut on a character boundary with a mark", "ééééé", 8, "éé…"}, // 2+2+3 = 7 ≤ 8; a third é would make 9
		{"exactly max is not cut", "abcde", 5, "abcde"},
		{"no cap", strings.Repeat("x", 5000), 0, strings.Repeat("x", 5000)},
		{"cap below the mark", "ééé", 2, "é"},
		{"cleaned before it is cut", "\x00\x00\x00abc", 3, "abc"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := CleanText(c.in, c.max)
			if got != c.want {
				t.Fatalf("CleanText(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
			}
			if !utf8.ValidString(got) || strings.IndexByte(got, 0) >= 0 || (c.max > 0 && len(got) > c.max) {
				t.Fatalf("CleanText(%q, %d) = %q: not clean", c.in, c.max, got)
			}
		})
	}
}

func TestCheckID(t *testing.T) {
	cases := []struct {
		id string
		ok bool
	}{
		{"3f0b1c9e-2f7a-4c1e-9b8a-1d2e3f4a5b6c", true},
		{"gid://shopify/Customer/7408328867907", true},
		{"", false},
		{"abc\x00", false},
		{"abc\xc3", false},
		{"abc\n", false},
		{strings.Repeat("a", MaxID+1), false},
	}
	for _, c := range cases {
		err := CheckID("commerce7", "create customer", c.id)
		if (err == nil) != c.ok {
			t.Errorf("CheckID(%q) = %v, want ok %v", c.id, err, c.ok)
		}
		if err != nil && (ClassOf(err) != Retryable || !utf8.ValidString(err.Error()) || strings.IndexByte(err.Error(), 0) >= 0) {
			t.Errorf("CheckID(%q): %v (%v), want a clean retryable error", c.id, err, ClassOf(err))
		}
	}
}

// TestErrorTextIsClean: whoever builds an Error, its text is storable.
func TestErrorTextIsClean(t *testing.T) {
	e := &Error{CRM: "shopify", Op: "add tag", Status: 422, Message: "bad\x00 caf\xc3" + strings.Repeat("é", 2000)}
	got := e.Error()
	if !utf8.ValidString(got) || strings.IndexByte(got, 0) >= 0 || len(got) > MaxMessage ||
		!strings.HasPrefix(got, "shopify: add tag: HTTP 422: bad caf\uFFFDé") {
		t.Fatalf("Error() = %q (%d bytes)", got[:min(len(got), 80)], len(got))
	}
}
