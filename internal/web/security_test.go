package web_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"tiersync/internal/authlimit"
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
	if opts.SecretKey == nil {
		opts.SecretKey = secretKey
	}
	opts.Store = membership.NewStore(opts.Pool, nil)
	opts.Engine = queue.New(opts.Pool, nil, queue.Config{Workers: 1})
	sched, err := jobs.Scheduler(jobs.Deps{Pool: opts.Pool, Store: opts.Store, Engine: opts.Engine}, jobs.Specs{Expire: "off", Sync: "off", Reconcile: "off"}, schedule.Options{})
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

// login logs in from remote and returns the session cookie.
func login(t *testing.T, h http.Handler, remote string) *http.Cookie {
	t.Helper()
	resp := do(h, "POST", "/admin/login", remote, url.Values{"token": {token}})
	for _, c := range resp.Cookies() {
		if c.Name == "tiersync_admin" && c.Value != "" {
			return c
		}
	}
	t.Fatalf("login: %d, no session cookie", resp.StatusCode)
	return nil
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf reads the CSRF token off a page of the session.
func csrfOf(t *testing.T, h http.Handler, session *http.Cookie) string {
	t.Helper()
	resp := do(h, "GET", "/admin/clients", "", nil, session)
	body, _ := io.ReadAll(resp.Body)
	m := csrfField.FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("clients page: %d, CSRF token found: %v", resp.StatusCode, m != nil)
	}
	return html.UnescapeString(string(m[1]))
}

// loggedIn says whether the cookie opens the admin page.
func loggedIn(h http.Handler, session *http.Cookie) bool {
	return do(h, "GET", "/admin/clients", "", nil, session).StatusCode == http.StatusOK
}

// TestLogoutEndsTheSession replays a cookie after its logout: the page must be closed to
// it, here and on another replica, while the same operator's other session stays open.
func TestLogoutEndsTheSession(t *testing.T) {
	pool := dbtest.New(t)
	h := newAdmin(t, web.Options{Pool: pool})
	replica := newAdmin(t, web.Options{Pool: pool})
	first, second := login(t, h, "192.0.2.1:1"), login(t, h, "192.0.2.1:2")
	if !loggedIn(h, first) || !loggedIn(replica, first) {
		t.Fatal("a fresh session does not open the page on both replicas")
	}
	resp := do(h, "POST", "/admin/logout", "", url.Values{"csrf": {csrfOf(t, h, first)}}, first)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if loggedIn(h, first) || loggedIn(replica, first) {
		t.Fatal("the logged-out cookie still opens the admin page")
	}
	resp = do(h, "POST", "/admin/cron/run", "", url.Values{"csrf": {csrfOf(t, h, second)}, "job": {"process-expired-enrollments"}}, first)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a POST with the logged-out cookie: %d, want 401", resp.StatusCode)
	}
	if !loggedIn(h, second) {
		t.Fatal("logging one session out ended another")
	}
}

// TestLoginPrunesEndedSessions: an expired session no longer opens the page, and the next
// login deletes its row (the table holds only the sessions of the last 12 hours).
func TestLoginPrunesEndedSessions(t *testing.T) {
	pool := dbtest.New(t)
	ctx := context.Background()
	clk := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clk }
	h := newAdmin(t, web.Options{Pool: pool, Now: now})
	old := login(t, h, "192.0.2.1:1")
	mu.Lock()
	clk = clk.Add(13 * time.Hour) // past the 12-hour session
	mu.Unlock()
	if loggedIn(h, old) {
		t.Fatal("an expired session opens the page")
	}
	login(t, h, "192.0.2.1:1")
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM admin_sessions`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d session rows after a login 13 hours on (%v), want 1", n, err)
	}
}

// TestSessionKey: the session MAC is keyed by TIERSYNC_SECRET_KEY and the API token. A
// replica with the same two accepts the cookie; another secret key, or a changed token,
// makes it worthless (the row is still there: the MAC is what refuses it).
func TestSessionKey(t *testing.T) {
	pool := dbtest.New(t)
	session := login(t, newAdmin(t, web.Options{Pool: pool}), "192.0.2.1:1")
	cases := []struct {
		name   string
		key    []byte
		token  string
		accept bool
	}{
		{"same key and token", secretKey, token, true},
		{"another secret key", []byte("another-secret-key-for-the-tests"), token, false},
		{"a changed API token", secretKey, token + "-rotated", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newAdmin(t, web.Options{Pool: pool, SecretKey: c.key, Token: c.token})
			if got := loggedIn(h, session); got != c.accept {
				t.Fatalf("cookie accepted: %v, want %v", got, c.accept)
			}
		})
	}
}

// TestNewNeedsASecretKey: no key, or a short one, is a configuration error, not a
// session key derived from something weaker.
func TestNewNeedsASecretKey(t *testing.T) {
	pool := dbtest.New(t)
	for _, key := range [][]byte{nil, []byte("too-short")} {
		if _, err := web.New(web.Options{Token: token, SecretKey: key, Pool: pool}); err == nil || !strings.Contains(err.Error(), "SecretKey") {
			t.Fatalf("key %q: err = %v", key, err)
		}
	}
}

// TestSessionCookieSecure: Secure follows CookieSecure, not whether this hop was TLS (a
// proxy may end TLS in front of the server, and plain HTTP must not decide for HTTPS).
func TestSessionCookieSecure(t *testing.T) {
	cases := []struct {
		name        string
		secure, tls bool
	}{
		{"secure behind a TLS-ending proxy", true, false},
		{"secure over TLS", true, true},
		{"development over HTTP", false, false},
		{"off even over TLS", false, true},
	}
	pool := dbtest.New(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newAdmin(t, web.Options{Pool: pool, CookieSecure: c.secure})
			r := httptest.NewRequest("POST", "/admin/login", strings.NewReader(url.Values{"token": {token}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if c.tls {
				r.TLS = &tls.ConnectionState{}
			} else {
				r.TLS = nil
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			cookies := w.Result().Cookies()
			if len(cookies) != 1 || cookies[0].Secure != c.secure {
				t.Fatalf("cookies %+v, want one with Secure %v", cookies, c.secure)
			}
			// Logging out clears the cookie with the same attributes.
			w = httptest.NewRecorder()
			r = httptest.NewRequest("POST", "/admin/logout", strings.NewReader(url.Values{"csrf": {csrfOf(t, h, cookies[0])}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.AddCookie(cookies[0])
			h.ServeHTTP(w, r)
			if out := w.Result().Cookies(); len(out) != 1 || out[0].Secure != c.secure || out[0].MaxAge >= 0 {
				t.Fatalf("logout cookies %+v", out)
			}
		})
	}
}

// TestLoginRateLimit: past the failures allowed, an address is refused with 429 and
// Retry-After even with the right token (it is not compared); other addresses are not;
// good logins do not count; the next window opens again.
func TestLoginRateLimit(t *testing.T) {
	clk := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clk }
	limiter := authlimit.New(authlimit.Config{Failures: 10, Window: time.Minute, Now: now})
	h := newAdmin(t, web.Options{LoginLimiter: limiter})
	attempt := func(remote, tok string) *http.Response {
		return do(h, "POST", "/admin/login", remote, url.Values{"token": {tok}})
	}
	const attacker, operator = "198.51.100.9:4000", "203.0.113.5:5000"
	for i := range 20 {
		if resp := attempt(operator, token); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("good login %d: %d", i+1, resp.StatusCode)
		}
	}
	for i := range 10 {
		// A new source port each time: the address is what counts.
		if resp := attempt(fmt.Sprintf("198.51.100.9:%d", 4000+i), "wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	for _, tok := range []string{"wrong", token} {
		resp := attempt(attacker, tok)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "60" || len(resp.Cookies()) != 0 {
			t.Fatalf("11th attempt (token %q): %d Retry-After %q cookies %d, want 429 60 and none",
				tok, resp.StatusCode, resp.Header.Get("Retry-After"), len(resp.Cookies()))
		}
	}
	// 20 good logins did not use up the operator's failures: ten wrong tokens are still
	// answered as wrong, and only then is the operator refused too.
	for i := range 10 {
		if resp := attempt(operator, "typo"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("operator's wrong token %d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	if resp := attempt(operator, token); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("operator after ten failures: %d, want 429", resp.StatusCode)
	}
	mu.Lock()
	clk = clk.Add(30 * time.Second)
	mu.Unlock()
	if resp := attempt(attacker, token); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "30" {
		t.Fatalf("half a minute on: %d Retry-After %q, want 429 30", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	mu.Lock()
	clk = clk.Add(30 * time.Second)
	mu.Unlock()
	if resp := attempt(attacker, token); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the next window: %d, want 303", resp.StatusCode)
	}
}

// TestFlashIsAFixedText: ?msg= picks one of the page's own texts by code; any other text
// in it, on the login page or behind it, is shown nowhere.
func TestFlashIsAFixedText(t *testing.T) {
	h := newAdmin(t, web.Options{})
	session := login(t, h, "192.0.2.1:1")
	const lure = "Session expired: log in again at evil.example"
	cases := []struct {
		target   string
		session  bool
		want     string // a text the page must show ("" none)
		wantFlag string // the element it is in
	}{
		{"/admin/login?msg=" + url.QueryEscape(lure), false, "", ""},
		{"/admin/login?msg=%3Cb%3E" + url.QueryEscape(lure), false, "", ""},
		{"/admin/login?msg=logged-out", false, "You are logged out.", `id="flash"`},
		{"/admin/cron?msg=" + url.QueryEscape(lure), true, "", ""},
		{"/admin/cron?msg=job-succeeded", true, "The job ran and succeeded", `id="flash"`},
		{"/admin/cron?msg=job-failed", true, "The job ran and failed", `id="error"`},
		{"/admin/clients?msg=retried%20" + url.QueryEscape(lure), true, "", ""},
	}
	for _, c := range cases {
		t.Run(c.target, func(t *testing.T) {
			var cookies []*http.Cookie
			if c.session {
				cookies = append(cookies, session)
			}
			resp := do(h, "GET", c.target, "", nil, cookies...)
			b, _ := io.ReadAll(resp.Body)
			body := string(b)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%d", resp.StatusCode)
			}
			if strings.Contains(body, "evil.example") {
				t.Fatalf("the page repeats the request's text:\n%s", body)
			}
			if c.want == "" && (strings.Contains(body, `id="flash"`) || strings.Contains(body, `id="error"`)) {
				t.Fatalf("a message for an unknown code:\n%s", body)
			}
			if c.want != "" && (!strings.Contains(body, c.want) || !strings.Contains(body, c.wantFlag)) {
				t.Fatalf("want %q in %s:\n%s", c.want, c.wantFlag, body)
			}
		})
	}
}

// TestStaticFilesAndHeaders: the static directory is not listed, its files are served,
// and every admin answer carries the full CSP.
func TestStaticFilesAndHeaders(t *testing.T) {
	h := newAdmin(t, web.Options{})
	cases := []struct {
		path   string
		status int
	}{
		{"/admin/static/", http.StatusNotFound},
		{"/admin/static/style.css", http.StatusOK},
		{"/admin/static/confirm.js", http.StatusOK},
		{"/admin/static/nothing.css", http.StatusNotFound},
		{"/admin/login", http.StatusOK},
	}
	for _, c := range cases {
		resp := do(h, "GET", c.path, "", nil)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != c.status {
			t.Errorf("GET %s: %d, want %d", c.path, resp.StatusCode, c.status)
		}
		if strings.Contains(string(b), `href="style.css"`) {
			t.Errorf("GET %s lists the directory", c.path)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'self'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'", "object-src 'none'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("GET %s: CSP %q lacks %q", c.path, csp, d)
			}
		}
	}
}
