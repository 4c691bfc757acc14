// Package web is the operators' admin page at /admin/: server-rendered html/template
// pages and embedded static files, no JavaScript build. Login is the API token, with
// failed attempts limited per client address; the session is an HttpOnly,
// SameSite=Strict cookie MACed with a key derived from TIERSYNC_SECRET_KEY and backed by
// a row that logout deletes (session.go); every form carries a CSRF token and nothing
// changes on GET.
//
// One file per page or concern: web.go (options, routes, rendering, auth), session.go,
// login.go, flash.go (messages after a POST), dashboard.go, queue.go, cron.go,
// clients.go (and editing clients and tiers), reconcile.go (starting a reconciliation, a
// run's differences, "repair these"), members.go (the members list and a customer's
// page), enroll.go (the enroll form), privacy.go, money.go, queries.go (the SQL in sql/).
package web

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/apperr"
	"tiersync/internal/authlimit"
	"tiersync/internal/membership"
	"tiersync/internal/privacy"
	"tiersync/internal/queue"
	"tiersync/internal/reconcile"
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
	// Privacy lists Shopify's privacy requests on the privacy page; nil: no page.
	Privacy *privacy.Service
	// Connections shows each Shopify client's connection on the clients page
	// (shopifyapp.Store); nil: not shown.
	Connections Connections
	// Check is the clients page's check button: one cheap authenticated read at a client's
	// CRM (app.Core.CheckClient); nil: no button.
	Check func(ctx context.Context, c membership.Client) error
	// EnrollWait is how long the enroll form waits for a Commerce7 row's sync before it
	// shows the customer's page: INLINE_SYNC_TIMEOUT, as POST /api/enrollments waits
	// [0: no wait, the page shows the row pending].
	EnrollWait time.Duration
	// Reconciler is reconcile-memberships: the clients page's Reconciliation cell (the
	// newest run, dry run and reconcile buttons), a run's page and "repair these". nil:
	// none of them.
	Reconciler *reconcile.Reconciler
	// Background is the context a reconciliation started from the admin page runs on:
	// serve's own, so that it outlives the request that started it (a big client's
	// listing takes an hour) and stops with the process [nil: the request's, without its
	// cancellation].
	Background context.Context
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
		"age":    func(sec int64) string { return (time.Duration(sec) * time.Second).String() },
		"money":  money,
		"amount": formAmount,
		"postal": postal,
		"json": func(b []byte) string {
			if len(b) == 0 {
				return "—"
			}
			return string(b)
		},
	}
	for _, page := range []string{"login", "dashboard", "queue", "item", "cron", "clients", "privacy", "members", "customer", "enroll", "reconcile"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/rows.html", "templates/"+page+".html")
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
	h.mux.HandleFunc("POST /admin/clients/{id}/check", h.auth(h.checkClient))
	h.mux.HandleFunc("POST /admin/clients/{id}", h.auth(h.updateClient))
	h.mux.HandleFunc("POST /admin/clients/{id}/tiers/{tier}", h.auth(h.updateTier))
	h.mux.HandleFunc("GET /admin/members", h.auth(h.members))
	h.mux.HandleFunc("GET /admin/customers/{id}", h.auth(h.customer))
	h.mux.HandleFunc("GET /admin/enroll", h.auth(h.enrollPage))
	h.mux.HandleFunc("POST /admin/enroll", h.auth(h.enroll))
	if opts.Privacy != nil {
		h.mux.HandleFunc("GET /admin/privacy", h.auth(h.privacyPage))
	}
	if opts.Reconciler != nil {
		h.mux.HandleFunc("POST /admin/clients/{id}/reconcile", h.auth(h.startReconcile))
		h.mux.HandleFunc("GET /admin/reconcile/{run}", h.auth(h.reconcileRun))
		h.mux.HandleFunc("POST /admin/reconcile/{run}/repair", h.auth(h.repairReconcile))
	}
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
		if text, bad := flashText(flashCode(r.URL.Query().Get("msg")), r.URL.Query()); bad {
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

// queueForm is the queue page's filter as its form shows it: the engine's filter, and
// the email it was resolved from.
type queueForm struct {
	queue.Filter
	CustomerEmail string
}
