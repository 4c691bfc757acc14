// Package api is tiersync's HTTP interface: the JSON API under /api/, the CRM webhooks,
// the health probes, and the plumbing they share (auth, request ids, logs, JSON errors).
package api

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"tiersync/internal/authlimit"
	"tiersync/internal/membership"
	"tiersync/internal/privacy"
	"tiersync/internal/queue"
	"tiersync/internal/reconcile"
	"tiersync/internal/schedule"
	"tiersync/internal/shopifyapp"
)

// Options are what the HTTP layer needs from the rest of the process.
type Options struct {
	// Token is TIERSYNC_API_TOKEN, required on /api/*.
	Token string
	// TokenLimiter counts wrong tokens per client address (nil: a default limiter of
	// authlimit's defaults).
	TokenLimiter *authlimit.Limiter
	Store        *membership.Store
	Logger       *slog.Logger
	// Ready reports whether this replica can serve: the database answers and its
	// migrations are not behind this binary's.
	Ready func(ctx context.Context) error
	// Metrics serves GET /metrics (Prometheus; no token); nil leaves it out.
	Metrics http.Handler
	// Queue lets an enrollment wait for its Commerce7 row (nil: never wait), at most
	// InlineSyncTimeout.
	Queue             Waiter
	InlineSyncTimeout time.Duration
	// Webhooks configures /webhooks/commerce7 and /webhooks/shopify.
	Webhooks Webhooks
	// Shopify keeps the Shopify clients' connections (credentials, tokens, webhook
	// secrets); nil: Shopify clients cannot be made and their webhooks are refused.
	Shopify *shopifyapp.Store
	// Check makes one cheap authenticated read at a client's CRM (app.Core.CheckClient)
	// for POST /api/clients/{client_id}/check; nil: the check says no CRM is configured.
	Check func(ctx context.Context, c membership.Client) error
	// Privacy answers Shopify's privacy webhooks (customers/data_request,
	// customers/redact, shop/redact) and serves GET /api/privacy/requests; nil: those
	// webhooks are refused (503, so Shopify delivers them again) and the list is absent.
	Privacy *privacy.Service
	// PublicURL is where Shopify reaches this deployment (PUBLIC_URL): the install's
	// callback and the webhook subscriptions point under it.
	PublicURL string
	// Engine serves the queue API and /api/cron/sync; nil leaves them out.
	Engine *queue.Queue
	// Scheduler serves /api/cron; nil leaves it out.
	Scheduler *schedule.Scheduler
	// Reconciler serves /api/reconcile and reconcile-memberships' trigger; nil leaves them out.
	Reconciler *reconcile.Reconciler
	// Background is the context of work a request starts that outlasts it (a reconcile
	// run): serve's own, which ends at shutdown. nil: the request's, without its cancel.
	Background context.Context
	// Admin serves /admin/ (the operators' page, its own login); nil leaves it out.
	Admin http.Handler
	// RequestTimeout is every request's deadline: its queries are cancelled when it passes
	// and it is answered 503 (0: none).
	RequestTimeout time.Duration
	// ObserveRequest is told of every request (metrics): its route pattern, status and
	// duration; nil: nobody.
	ObserveRequest func(route string, status int, d time.Duration)
}

// Waiter waits for a queue row to finish (the queue engine).
type Waiter interface {
	Wait(ctx context.Context, id int64) (string, error)
}

// Server routes and serves the HTTP API.
type Server struct {
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux
	// handler is mux wrapped in the middleware.
	handler http.Handler
}

// New builds the server and its routes.
func New(opts Options) *Server {
	if opts.TokenLimiter == nil {
		opts.TokenLimiter = authlimit.New(authlimit.Config{})
	}
	s := &Server{opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.routes()
	s.handler = s.observe(limitBody(withDeadline(s.opts.RequestTimeout, s.mux)))
	return s
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	if s.opts.Metrics != nil {
		s.mux.Handle("GET /metrics", s.opts.Metrics)
	}

	if s.opts.Admin != nil {
		s.mux.Handle("/admin/", s.opts.Admin)
		s.mux.Handle("GET /admin", s.opts.Admin)
	}
	// The CRMs authenticate their webhooks themselves (Basic auth, HMAC): no API token.
	s.mux.HandleFunc("POST /webhooks/commerce7", s.commerce7Webhook)
	s.mux.HandleFunc("POST /webhooks/shopify", s.shopifyWebhook)
	// Shopify sends the merchant's browser here: the install proves itself (hmac, state).
	s.mux.HandleFunc("GET /shopify/install", s.shopifyInstall)
	s.mux.HandleFunc("GET /shopify/callback", s.shopifyCallback)

	api := func(pattern string, h http.HandlerFunc) {
		s.mux.Handle(pattern, requireToken(s.opts.Token, s.opts.TokenLimiter, h))
	}
	api("POST /api/clients", s.createClient)
	api("GET /api/clients", s.listClients)
	api("POST /api/clients/{client_id}/webhook-credentials", s.rotateWebhookCredentials)
	api("PATCH /api/clients/{client_id}", s.updateClient)
	api("POST /api/clients/{client_id}/check", s.checkClient)
	api("POST /api/clients/{client_id}/tiers", s.createTier)
	api("GET /api/clients/{client_id}/tiers", s.listTiers)
	api("POST /api/clients/{client_id}/shopify/webhooks", s.registerShopifyWebhooks)
	api("PATCH /api/clients/{client_id}/tiers/{tier_id}", s.updateTier)
	api("POST /api/enrollments", s.enroll)
	api("GET /api/enrollments", s.listEnrollments)
	api("GET /api/enrollments/{id}", s.getEnrollment)
	api("POST /api/enrollments/{id}/cancel", s.cancelEnrollment)
	api("GET /api/customers", s.listCustomers)
	api("GET /api/customers/{id}", s.getCustomer)
	if s.opts.Privacy != nil {
		api("GET /api/privacy/requests", s.listPrivacyRequests)
	}
	if s.opts.Engine != nil {
		api("GET /api/queue", s.listQueue)
		api("GET /api/queue/stats", s.queueStats)
		api("GET /api/queue/{id}", s.getQueueItem)
		api("POST /api/queue/{id}/retry", s.retryQueueItem)
		api("POST /api/queue/{id}/cancel", s.cancelQueueItem)
		api("POST /api/queue/retry-failed", s.retryFailed)
		api("POST /api/cron/sync", s.cronSync)
	}
	if s.opts.Scheduler != nil && s.opts.Engine != nil {
		api("GET /api/cron", s.getCron)
		api("POST /api/cron", s.postCron)
	}
	if s.opts.Reconciler != nil {
		api("GET /api/reconcile/runs/{id}", s.getReconcileRun)
		api("POST /api/reconcile/runs/{id}/repair", s.repairReconcileRun)
	}

	// Everything else under /api/ answers in JSON too, after the token check, so that
	// the API's shape is not visible without the token.
	s.mux.Handle("/api/", requireToken(s.opts.Token, s.opts.TokenLimiter, http.HandlerFunc(s.apiFallback)))
}

// apiFallback answers a request no API route took: 405 with Allow when the path exists
// with other methods (the mux would pick this catch-all over them), else 404.
func (s *Server) apiFallback(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/api/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+strings.Join(allow, ", "))
		return
	}
	writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.opts.Ready == nil {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.opts.Ready(ctx); err != nil {
		// The probe is unauthenticated: the reason (a host name, a migration number) goes
		// to the log, not to whoever asks.
		logger(r.Context()).Warn("not ready", slog.String("reason", err.Error()))
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable",
			"error": "not ready; the server log says why"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
