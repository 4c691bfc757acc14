package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"tiersync/internal/db/dbtest"
	"tiersync/internal/jobs"
	"tiersync/internal/membership"
	"tiersync/internal/queue"
	"tiersync/internal/schedule"
	"tiersync/internal/web"
)

// newAdmin is the admin page on a fresh database, with opts' fields filled in where unset.
func newAdmin(t *testing.T, opts web.Options) http.Handler {
	t.Helper()
	if opts.Pool == nil {
		opts.Pool = dbtest.New(t)
	}
	if opts.Token == "" {
		opts.Token = token
	}
	opts.Store = membership.NewStore(opts.Pool, nil)
	opts.Engine = queue.New(opts.Pool, nil, queue.Config{Workers: 1})
	sched, err := jobs.Scheduler(jobs.Deps{Pool: opts.Pool, Store: opts.Store, Engine: opts.Engine}, "off", "off", schedule.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts.Scheduler = sched
	h, err := web.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// do runs one request through h from a client address, with a form body and cookies.
func do(h http.Handler, method, target, remote string, form url.Values, cookies ...*http.Cookie) *http.Response {
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	r := httptest.NewRequest(method, target, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if remote != "" {
		r.RemoteAddr = remote
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

// TestLoginRedirectStaysOnAdmin logs in with each next: only a clean path on the admin
// page is followed, everything else goes to /admin/ (the review's open redirect was
// next=/admin/../\evil.example ending as Location: /\evil.example).
func TestLoginRedirectStaysOnAdmin(t *testing.T) {
	h := newAdmin(t, web.Options{})
	cases := []struct{ next, want string }{
		{"/admin/queue?status=failed&client=x", "/admin/queue?status=failed&client=x"},
		{"/admin/queue/12", "/admin/queue/12"},
		{"/admin/", "/admin/"},
		{"/admin", "/admin"},
		{"/admin/cron", "/admin/cron"},
		{"", "/admin/"},
		{`/admin/../\evil.example`, "/admin/"},
		{`/admin/..\evil.example`, "/admin/"},
		{"/admin/%2e%2e/%5cevil.example", "/admin/"},
		{"/admin/%2E%2E/x", "/admin/"},
		{"/admin/%5cevil.example", "/admin/"},
		{"/admin//evil.example", "/admin/"},
		{"/admin/..%2f..", "/admin/"},
		{"/admin/..%2F..%2Fevil", "/admin/"},
		{"/admin/%2f%2fevil.example", "/admin/"},
		{"/admin/./queue", "/admin/"},
		{"/admin/%252e%252e/x", "/admin/"}, // double encoding
		{"http://evil", "/admin/"},
		{"https://evil.example/admin/", "/admin/"},
		{"//evil", "/admin/"},
		{"//evil/admin/", "/admin/"},
		{`/\evil`, "/admin/"},
		{`/admin\..\x`, "/admin/"},
		{"/administrator", "/admin/"},
		{"/admin-evil", "/admin/"},
		{"/admin/\tx", "/admin/"},
		{"/admin/%0d%0aSet-Cookie:x=y", "/admin/"},
		{"/admin/%00", "/admin/"},
		{"/admin/queue?x=\x7f", "/admin/"},
		{"/admin/queue?x=\\y", "/admin/"},
		{"/admin/#//evil", "/admin/"},
		{"/admin/%zz", "/admin/"},
		{"/admin/é", "/admin/"},
		{"admin/queue", "/admin/"},
		{"javascript:alert(1)", "/admin/"},
	}
	for _, c := range cases {
		t.Run(c.next, func(t *testing.T) {
			resp := do(h, "POST", "/admin/login", "192.0.2.1:1000", url.Values{"token": {token}, "next": {c.next}})
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != c.want {
				t.Fatalf("next=%q: %d Location %q, want 303 %q", c.next, resp.StatusCode, resp.Header.Get("Location"), c.want)
			}
		})
	}
}
