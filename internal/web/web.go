// Package web is the operators' admin page at /admin/: server-rendered html/template
// pages and embedded static files, no JavaScript build. Login is the API token, with
// failed attempts limited per client address; the session is an HttpOnly,
// SameSite=Strict cookie MACed with a key derived from TIERSYNC_SECRET_KEY and backed by
// a row that logout deletes (session.go); every form carries a CSRF token and nothing
// changes on GET.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/apperr"
	"tiersync/internal/authlimit"
	"tiersync/internal/membership"
	"tiersync/internal/queue"
	"tiersync/internal/schedule"
)

//go:embed templates/*.html static/*
var files embed.FS

// Options are what the admin page reads and steers.
type Options struct {
	Token string // TIERSYNC_API_TOKEN: what an operator logs in with
	// SecretKey is TIERSYNC_SECRET_KEY (32 bytes), which the session MAC key is derived
	// from. Required: New fails without it.
	SecretKey []byte
	// CookieSecure marks the session cookie Secure, so that browsers send it over HTTPS
	// only (COOKIE_SECURE). Off only for plain-HTTP development such as the demo.
	CookieSecure bool
	// LoginLimiter limits failed logins per client address [nil: authlimit's defaults,
	// 10 failures a minute, with Now as its clock].
	LoginLimiter *authlimit.Limiter
	Pool         *pgxpool.Pool
	Store        *membership.Store
	Engine       *queue.Queue
	Scheduler    *schedule.Scheduler
	Logger       *slog.Logger
	Now          func() time.Time
	// RefreshEvery is how often the dashboard reloads itself [5s].
	RefreshEvery time.Duration
}

type handler struct {
	opts    Options
	sess    *sessions
	limiter *authlimit.Limiter
	pages   map[string]*template.Template
	mux     *http.ServeMux
}

// New returns the admin page's handler, to mount at /admin/.
func New(opts Options) (http.Handler, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.RefreshEvery <= 0 {
		opts.RefreshEvery = 5 * time.Second
	}
	if opts.LoginLimiter == nil {
		opts.LoginLimiter = authlimit.New(authlimit.Config{Now: opts.Now})
	}
	sess, err := newSessions(opts.SecretKey, opts.Token, opts.Pool, opts.CookieSecure, opts.Now)
	if err != nil {
		return nil, err
	}
	h := &handler{opts: opts, sess: sess, limiter: opts.LoginLimiter, pages: map[string]*template.Template{}, mux: http.NewServeMux()}
	funcs := template.FuncMap{
		"when": func(t any) string {
			switch v := t.(type) {
			case time.Time:
				return v.UTC().Format("2006-01-02 15:04:05 UTC")
			case *time.Time:
				if v == nil {
					return "—"
				}
				return v.UTC().Format("2006-01-02 15:04:05 UTC")
			}
			return fmt.Sprint(t)
		},
		"str": func(p *string) string {
			if p == nil || *p == "" {
				return "—"
			}
			return *p
		},
		"age": func(sec int64) string { return (time.Duration(sec) * time.Second).String() },
		"json": func(b []byte) string {
			if len(b) == 0 {
				return "—"
			}
			return string(b)
		},
	}
	for _, page := range []string{"login", "dashboard", "queue", "item", "cron", "clients"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+page+".html")
		if err != nil {
			return nil, fmt.Errorf("admin templates: %w", err)
		}
		h.pages[page] = t
	}
	static, _ := fs.Sub(files, "static")
	h.mux.Handle("GET /admin/static/", http.StripPrefix("/admin/static/", filesOnly(static)))
	h.mux.HandleFunc("GET /admin/login", h.loginPage)
	h.mux.HandleFunc("POST /admin/login", h.login)
	h.mux.HandleFunc("POST /admin/logout", h.auth(h.logout))
	h.mux.HandleFunc("GET /admin/{$}", h.auth(h.dashboard))
	h.mux.HandleFunc("GET /admin/queue", h.auth(h.queueList))
	h.mux.HandleFunc("GET /admin/queue/{id}", h.auth(h.queueItem))
	h.mux.HandleFunc("POST /admin/queue/{id}/retry", h.auth(h.retry))
	h.mux.HandleFunc("POST /admin/queue/{id}/cancel", h.auth(h.cancel))
	h.mux.HandleFunc("POST /admin/queue/retry-failed", h.auth(h.retryFailed))
	h.mux.HandleFunc("GET /admin/cron", h.auth(h.cronPage))
	h.mux.HandleFunc("POST /admin/cron/run", h.auth(h.cronRun))
	h.mux.HandleFunc("GET /admin/clients", h.auth(h.clients))
	h.mux.HandleFunc("GET /admin", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/admin/", http.StatusSeeOther) })
	return h, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// form-action keeps a form (even an injected one) posting here; base-uri stops a <base>
	// from moving the page's relative links; object-src shuts out plugins.
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'; "+
		"form-action 'self'; base-uri 'none'; object-src 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	h.mux.ServeHTTP(w, r)
}

type ctxKey struct{}

// auth sends a visitor without a session to the login page, and checks the CSRF token of
// every POST.
func (h *handler) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		nonce, err := h.sess.current(r.Context(), r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if nonce == "" {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/admin/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "not logged in", http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodPost && !h.sess.checkCSRF(nonce, r.PostFormValue("csrf")) {
			http.Error(w, "the form is stale (CSRF token); reload the page and try again", http.StatusForbidden)
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, nonce)))
	}
}

// page is what every template gets.
type page struct {
	Title   string
	Nav     string
	CSRF    string
	Flash   string
	Error   string
	Refresh int // seconds; 0: none
	Data    any
}

func (h *handler) render(w http.ResponseWriter, r *http.Request, name string, status int, p page) {
	if nonce, _ := r.Context().Value(ctxKey{}).(string); nonce != "" {
		p.CSRF = h.sess.csrf(nonce)
	}
	if p.Flash == "" && p.Error == "" {
		if text, bad := flashText(flashCode(r.URL.Query().Get("msg"))); bad {
			p.Error = text
		} else {
			p.Flash = text
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := h.pages[name].Execute(w, p); err != nil {
		h.opts.Logger.Error("admin page", slog.String("page", name), slog.String("error", err.Error()))
	}
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	switch apperr.KindOf(err) {
	case apperr.BadRequest, apperr.Invalid:
		status = http.StatusBadRequest
	case apperr.NotFound:
		status = http.StatusNotFound
	case apperr.Conflict:
		status = http.StatusConflict
	}
	msg := err.Error()
	if status == http.StatusInternalServerError {
		h.opts.Logger.Error("admin page", slog.String("path", r.URL.Path), slog.String("error", msg))
		msg = "something went wrong; the server log has the details"
	}
	h.render(w, r, "login", status, page{Title: "Error", Error: msg, Data: map[string]any{"ErrorPage": true}})
}

// filesOnly serves the embedded static files, and a 404 for a directory rather than a
// listing of it.
func filesOnly(static fs.FS) http.Handler {
	files := http.FileServerFS(static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimSuffix(r.URL.Path, "/")
		if name == "" {
			name = "."
		}
		if st, err := fs.Stat(static, name); err != nil || st.IsDir() {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}

// A flashCode is what ?msg= carries after a POST: a code for one of a fixed set of
// texts, never the text itself, so that a link cannot make the admin page say what it
// likes ("your session expired, log in at …"). An unknown code shows nothing.
type flashCode string

const (
	flashRetried       flashCode = "retried"
	flashCancelled     flashCode = "cancelled"
	flashNotActionable flashCode = "not-actionable"
	flashFailedRetried flashCode = "failed-retried"
	flashJobSucceeded  flashCode = "job-succeeded"
	flashJobFailed     flashCode = "job-failed"
	flashJobStarted    flashCode = "job-started"
	flashLoggedOut     flashCode = "logged-out"
)

// flashText is the text of a code, and whether it reports a failure.
func flashText(code flashCode) (text string, bad bool) {
	switch code {
	case flashRetried:
		return "The row is due again.", false
	case flashCancelled:
		return "The row is cancelled.", false
	case flashNotActionable:
		return "Nothing was changed: only pending or failed rows can be retried or cancelled.", true
	case flashFailedRetried:
		return "The failed rows are due again.", false
	case flashJobSucceeded:
		return "The job ran and succeeded: its run is below.", false
	case flashJobFailed:
		return "The job ran and failed: its run and error are below.", true
	case flashJobStarted:
		return "The job was started: its run is below.", false
	case flashLoggedOut:
		return "You are logged out.", false
	}
	return "", false
}

// back redirects after a POST to where the form was, with a message.
func back(w http.ResponseWriter, r *http.Request, to string, msg flashCode) {
	u, _ := url.Parse(to)
	q := u.Query()
	q.Set("msg", string(msg))
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

func (h *handler) loginPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, "login", http.StatusOK, page{Title: "Log in", Data: map[string]any{"Next": safeNext(r.URL.Query().Get("next"))}})
}

// login checks the API token, at most LoginLimiter's failures per client address: past
// them an attempt is refused before the token is compared, so guessing it goes at a
// handful of tries a minute whatever the attacker's bandwidth.
func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	// The whole form is read before the limiter is asked, so that nothing slow (a body
	// trickling in) sits between its check and the failure it records.
	given, next := r.PostFormValue("token"), safeNext(r.PostFormValue("next"))
	client := authlimit.ClientKey(r)
	if ok, after := h.limiter.Allow(client); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(after.Seconds()))))
		h.render(w, r, "login", http.StatusTooManyRequests, page{Title: "Log in",
			Error: "Too many wrong tokens from your address: wait a minute and try again.", Data: map[string]any{"Next": next}})
		return
	}
	if !h.sess.checkToken(given) {
		h.limiter.Fail(client)
		h.render(w, r, "login", http.StatusUnauthorized, page{Title: "Log in", Error: "That is not the API token.",
			Data: map[string]any{"Next": next}})
		return
	}
	if err := h.sess.start(r.Context(), w); err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// safeNext is where to go after logging in: next when it is a clean path on the admin
// page, otherwise /admin/. Browsers read a backslash as a slash, "//" as the start of a
// host, and undo "..", "%2e%2e" and "%2f" in ways http.Redirect's path.Clean does not
// foresee, so anything containing them (raw or percent-encoded, once or twice) is
// refused rather than repaired: only the admin page's own links have to pass.
func safeNext(next string) string {
	const home = "/admin/"
	// The query is left as it is (the admin page's own redirect to the login page encoded
	// it): it cannot change where the browser goes, only what the page shows.
	p, _, _ := strings.Cut(next, "?")
	if !printableASCII(next) || strings.ContainsAny(next, `\#`) {
		return home
	}
	// The path once decoded must be clean and under /admin; a "%" left after decoding
	// is a second layer of encoding, which no admin link has.
	d, err := url.PathUnescape(p)
	if err != nil || !printableASCII(d) || strings.ContainsAny(d, `\%`) || strings.Contains(d, "//") || strings.Contains(d, "..") {
		return home
	}
	if clean := path.Clean(d); clean != strings.TrimSuffix(d, "/") && clean != d {
		return home // a "." segment
	} else if clean != "/admin" && !strings.HasPrefix(clean, "/admin/") {
		return home
	}
	return next
}

// printableASCII reports whether s is only printable ASCII: no control characters, no
// DEL, nothing a browser might fold into a slash or a dot.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func (h *handler) logout(w http.ResponseWriter, r *http.Request) {
	nonce, _ := r.Context().Value(ctxKey{}).(string)
	if err := h.sess.end(r.Context(), w, nonce); err != nil {
		h.fail(w, r, err)
		return
	}
	back(w, r, "/admin/login", flashLoggedOut)
}

type clientBacklog struct {
	ID, Name, CRMType                string
	Pending, Processing, Failed, Due int64
}

type failedRow struct {
	ID        int64
	Action    string
	Client    string
	Error     string
	UpdatedAt time.Time
}

func (h *handler) dashboard(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	stats, err := h.opts.Engine.Stats(ctx)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	backlog, err := collect(ctx, h.opts.Pool, qBacklog, func(row pgx.CollectableRow) (clientBacklog, error) {
		var b clientBacklog
		return b, row.Scan(&b.ID, &b.Name, &b.CRMType, &b.Pending, &b.Due, &b.Processing, &b.Failed)
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	failed, err := collect(ctx, h.opts.Pool, qFailedRecently, func(row pgx.CollectableRow) (failedRow, error) {
		var f failedRow
		return f, row.Scan(&f.ID, &f.Action, &f.Client, &f.Error, &f.UpdatedAt)
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	jobs, err := h.opts.Scheduler.Jobs(ctx)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, "dashboard", http.StatusOK, page{Title: "Dashboard", Nav: "dashboard", Refresh: max(1, int(h.opts.RefreshEvery.Seconds())), Data: map[string]any{
		"Stats": stats, "Statuses": queue.Statuses, "Actions": queue.Actions, "Backlog": backlog, "Failed": failed, "Jobs": jobs,
	}})
}

func collect[T any](ctx context.Context, pool *pgxpool.Pool, sql string, scan pgx.RowToFunc[T], args ...any) ([]T, error) {
	rows, err := pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scan)
}

// queueForm is the queue page's filter as its form shows it: the engine's filter, and
// the email it was resolved from.
type queueForm struct {
	queue.Filter
	CustomerEmail string
}

func (h *handler) queueList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := queue.Filter{Status: q.Get("status"), ActionType: q.Get("action"), ClientID: q.Get("client")}
	if email := q.Get("email"); email != "" {
		// The engine filters on its own columns: the email becomes its customers' ids.
		ids, err := h.opts.Store.CustomerIDsByEmail(r.Context(), email, queue.MaxFilterCustomerIDs)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		f.CustomerIDs = ids
	}
	items, next, err := h.opts.Engine.List(r.Context(), f, 50, q.Get("cursor"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	clients, _, err := h.opts.Store.ListClients(r.Context(), membership.Page{Limit: 500})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	nextURL := ""
	if next != "" {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("cursor", next)
		nextURL = "/admin/queue?" + v.Encode()
	}
	h.render(w, r, "queue", http.StatusOK, page{Title: "Queue", Nav: "queue", Data: map[string]any{
		"Items": items, "Filter": queueForm{Filter: f, CustomerEmail: q.Get("email")}, "Clients": clients, "Statuses": queue.Statuses, "Actions": queue.Actions,
		"Next": nextURL, "Here": r.URL.RequestURI(),
	}})
}

type itemContext struct {
	ClientName, CRMType        string
	Email, FirstName, LastName string
	CRMID                      *string
	EnrollmentStatus, Tier     *string
	EnrollmentExpires          *time.Time
	CRMMembershipID            *string
}

func (h *handler) queueItem(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		h.fail(w, r, apperr.BadRequestf("%q is not a queue row id", r.PathValue("id")))
		return
	}
	it, history, err := h.opts.Engine.Get(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var c itemContext
	err = h.opts.Pool.QueryRow(r.Context(), qItemContext, it.ClientID, it.CustomerID, it.EnrollmentID).Scan(
		&c.ClientName, &c.CRMType, &c.Email, &c.FirstName, &c.LastName, &c.CRMID, &c.EnrollmentStatus, &c.Tier,
		&c.EnrollmentExpires, &c.CRMMembershipID)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, "item", http.StatusOK, page{Title: fmt.Sprintf("Queue row #%d", id), Nav: "queue", Data: map[string]any{
		"Item": it, "History": history, "Context": c,
		"Actionable": it.Status == queue.StatusPending || it.Status == queue.StatusFailed,
	}})
}

func (h *handler) retry(w http.ResponseWriter, r *http.Request) {
	h.change(w, r, "retried", flashRetried, func(ctx context.Context, id int64) (queue.Item, error) {
		return h.opts.Engine.Retry(ctx, id, r.PostFormValue("reset") == "1")
	})
}

func (h *handler) cancel(w http.ResponseWriter, r *http.Request) {
	h.change(w, r, "cancelled", flashCancelled, h.opts.Engine.Cancel)
}

func (h *handler) change(w http.ResponseWriter, r *http.Request, verb string, done flashCode, do func(context.Context, int64) (queue.Item, error)) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		h.fail(w, r, apperr.BadRequestf("%q is not a queue row id", r.PathValue("id")))
		return
	}
	if _, err := do(r.Context(), id); err != nil {
		if apperr.KindOf(err) == apperr.Conflict {
			back(w, r, fmt.Sprintf("/admin/queue/%d", id), flashNotActionable)
			return
		}
		h.fail(w, r, err)
		return
	}
	h.opts.Logger.Info("admin: queue row "+verb, slog.Int64("queue_id", id))
	back(w, r, fmt.Sprintf("/admin/queue/%d", id), done)
}

func (h *handler) retryFailed(w http.ResponseWriter, r *http.Request) {
	n, err := h.opts.Engine.RetryFailed(r.Context(), queue.Filter{ClientID: r.PostFormValue("client")}, false)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.opts.Logger.Info("admin: failed rows retried", slog.Int64("count", n))
	back(w, r, "/admin/queue?status=pending", flashFailedRetried)
}

func (h *handler) cronPage(w http.ResponseWriter, r *http.Request) {
	jobs, err := h.opts.Scheduler.Jobs(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	runs, err := h.opts.Scheduler.Runs(r.Context(), 50)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, "cron", http.StatusOK, page{Title: "Scheduled jobs", Nav: "cron", Data: map[string]any{"Jobs": jobs, "Runs": runs}})
}

func (h *handler) cronRun(w http.ResponseWriter, r *http.Request) {
	run, err := h.opts.Scheduler.Trigger(r.Context(), r.PostFormValue("job"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.opts.Logger.Info("admin: job run", slog.String("job", run.JobName), slog.Int64("run_id", run.ID), slog.String("status", run.Status))
	switch run.Status {
	case schedule.StatusSucceeded:
		back(w, r, "/admin/cron", flashJobSucceeded)
	case schedule.StatusFailed:
		back(w, r, "/admin/cron", flashJobFailed)
	default:
		back(w, r, "/admin/cron", flashJobStarted)
	}
}

type clientTiers struct {
	membership.Client
	Tiers []membership.Tier
}

func (h *handler) clients(w http.ResponseWriter, r *http.Request) {
	list, _, err := h.opts.Store.ListClients(r.Context(), membership.Page{Limit: 500})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]clientTiers, 0, len(list))
	for _, c := range list {
		tiers, _, err := h.opts.Store.ListTiers(r.Context(), c.ID, membership.Page{Limit: 500})
		if err != nil {
			h.fail(w, r, err)
			return
		}
		out = append(out, clientTiers{Client: c, Tiers: tiers})
	}
	h.render(w, r, "clients", http.StatusOK, page{Title: "Clients and tiers", Nav: "clients", Data: map[string]any{"Clients": out}})
}
