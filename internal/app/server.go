package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"tiersync/internal/api"
	"tiersync/internal/authlimit"
	"tiersync/internal/config"
	"tiersync/internal/db"
	"tiersync/internal/membership"
	"tiersync/internal/metrics"
	"tiersync/internal/privacy"
	"tiersync/internal/queue"
	"tiersync/internal/web"
)

// Limits of the HTTP side (issue 16: each was found missing by a review).
const (
	// maxHeaderBytes caps a request's line and headers: no legitimate caller (a CRM, an
	// operator's curl, a browser) sends more, and Go's default is 1 MiB.
	maxHeaderBytes = 64 << 10
	// readyTimeout is the readiness probe's statement_timeout.
	readyTimeout = 2 * time.Second
)

// Server is a whole replica: the core, the HTTP API, the admin page, the probes and the
// metrics.
type Server struct {
	*Core
	readyPool *pgxpool.Pool
	gauges    *queue.Metrics
	// handler serves LISTEN_ADDR; metricsHandler serves /metrics on METRICS_ADDR when set.
	handler        http.Handler
	metricsHandler http.Handler
	// metricsLn is METRICS_ADDR's listener when the caller opened it before building the
	// replica (ServeOn); nil: Run opens it.
	metricsLn net.Listener
}

// NewServer builds a replica. handler replaces the syncer when not nil (tests). The caller
// closes it.
func NewServer(ctx context.Context, cfg *config.Config, log *slog.Logger, handler queue.Handler) (*Server, error) {
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	observeRun, err := metrics.Jobs(registry)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	core, err := NewCore(ctx, cfg, log, CoreOptions{Handler: handler, ObserveRun: observeRun})
	if err != nil {
		return nil, err
	}
	s := &Server{Core: core}
	if err := s.build(ctx, registry); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) build(ctx context.Context, registry *prometheus.Registry) error {
	cfg, log := s.Config, s.Log
	if cfg.SecretKey == nil {
		return errors.New("TIERSYNC_SECRET_KEY is required to serve")
	}
	// /readyz has a connection of its own: a probe that queued behind request traffic on a
	// busy pool would report a healthy replica dead and have it restarted.
	var err error
	s.readyPool, err = db.OpenWith(ctx, cfg.DatabaseURL, db.Options{MaxConns: 1, StatementTimeout: readyTimeout, Pooled: cfg.Pooled()})
	if err != nil {
		return err
	}
	if err := db.CheckReady(ctx, s.Pool); err != nil {
		if errors.Is(err, db.ErrNoSchema) {
			// No schema at all is a database nobody migrated (a first install, or the wrong
			// DATABASE_URL), not a rolling upgrade: serving would answer 500 to every request
			// while /healthz kept the process alive. Refuse, with the same advice.
			return err
		}
		// Behind: serve anyway. /readyz says 503 until the schema catches up, which is what
		// a rolling upgrade wants (the new binary starts, then `migrate up` runs), and
		// /healthz keeps the process from being restarted.
		log.Warn("not ready", slog.String("reason", err.Error()))
	}
	// A wrong TIERSYNC_SECRET_KEY is found here, not at the first Shopify call or webhook.
	if err := s.Shopify.CheckKey(ctx); err != nil {
		if !db.UndefinedTable(err) {
			return err
		}
		// A schema from before the key check (migration 00015): checked at the first start
		// after `migrate up`.
		log.Warn("TIERSYNC_SECRET_KEY not checked: the schema has no secret_key_check yet (run `tiersync migrate up`)")
	}
	logWebhooks(log, cfg)
	if cfg.Pooled() {
		if err := checkPooledSettings(ctx, s.Pool, log, cfg.StatementTimeout); err != nil {
			return err
		}
	}
	if cfg.ShopifyWebhookSecret != "" {
		// Upgrade from one webhook secret for every shop: the token clients made before
		// per-client secrets get it as theirs, so their webhooks keep verifying. A schema
		// not yet migrated has nowhere to put it: said, and retried at the next start.
		n, err := s.Shopify.AdoptLegacyWebhookSecret(ctx, cfg.ShopifyWebhookSecret)
		if err != nil {
			log.Warn("SHOPIFY_WEBHOOK_SECRET not adopted", slog.String("reason", err.Error()))
		} else {
			log.Warn("SHOPIFY_WEBHOOK_SECRET is deprecated: each Shopify client has its own webhook secret now; "+
				"remove the variable once every token client has one (GET /api/clients)", slog.Int("clients_given_it_now", n))
		}
	}
	if err := registry.Register(s.CRMs.ShopifyDeprecated); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if s.gauges, err = queue.NewMetrics(registry, s.Engine); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	observeRequest, err := metrics.HTTP(registry)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	// One count of wrong tokens per address for the API and the admin login: both check the
	// same token.
	tokenLimiter := authlimit.New(authlimit.Config{})
	privacySvc := privacy.New(s.Pool, s.Store, s.Shopify)
	// Serving needs TIERSYNC_SECRET_KEY (above), so s.Shopify is never a nil pointer here.
	admin, err := web.New(web.Options{Token: cfg.APIToken, SecretKey: cfg.SecretKey, CookieSecure: cfg.CookieSecure,
		LoginLimiter: tokenLimiter, Pool: s.Pool, Store: s.Store, Engine: s.Engine, Scheduler: s.Scheduler, Logger: log, Privacy: privacySvc,
		Connections: s.Shopify, Check: s.CheckClient, EnrollWait: cfg.InlineSyncTimeout, Reconciler: s.Reconciler, Background: ctx})
	if err != nil {
		return err
	}
	metricsHandler := metrics.Handler(registry, log)
	apiMetrics := metricsHandler
	if cfg.MetricsAddr != "" {
		apiMetrics, s.metricsHandler = nil, metricsHandler // served on its own listener
	}
	// A nil *commerce7.Client in the interface would not be a nil interface: set the
	// source only when this replica has Commerce7 credentials.
	var c7Customers membership.CustomerSource
	if s.CRMs.Commerce7 != nil {
		c7Customers = s.CRMs.Commerce7
	}
	s.handler = api.New(api.Options{
		Admin:        admin,
		Token:        cfg.APIToken,
		TokenLimiter: tokenLimiter,
		Store:        s.Store,
		Logger:       log,
		Ready: func(ctx context.Context) error {
			// The deadline holds behind a pooler too, where no statement_timeout is set.
			ctx, cancel := context.WithTimeout(ctx, readyTimeout)
			defer cancel()
			return db.CheckReady(ctx, s.readyPool)
		},
		Metrics:        apiMetrics,
		RequestTimeout: cfg.RequestTimeout,
		// A replica without workers still waits: another replica may finish the row.
		Queue:             s.Engine,
		Engine:            s.Engine,
		Scheduler:         s.Scheduler,
		Reconciler:        s.Reconciler,
		Background:        ctx,
		ObserveRequest:    observeRequest,
		InlineSyncTimeout: cfg.InlineSyncTimeout,
		Shopify:           s.Shopify,
		Check:             s.CheckClient,
		Privacy:           privacySvc,
		PublicURL:         cfg.PublicURL,
		Webhooks: api.Webhooks{
			Commerce7User:      cfg.Commerce7WebhookUser,
			Commerce7Password:  cfg.Commerce7WebhookPassword,
			Commerce7EchoUser:  cfg.Commerce7EchoUser,
			Commerce7Customers: c7Customers,
		},
	})
	return nil
}

// checkPooledSettings warns when the database's own statement_timeout and jit, which
// apply behind a transaction pooler (tiersync sends no startup parameters there), differ
// from what tiersync sets on a direct connection.
func checkPooledSettings(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, want time.Duration) error {
	var timeoutMS int64
	var jit string
	err := pool.QueryRow(ctx, `SELECT (extract(epoch FROM current_setting('statement_timeout')::interval) * 1000)::bigint,
		current_setting('jit')`).Scan(&timeoutMS, &jit)
	if err != nil {
		return fmt.Errorf("read the database's settings: %w", err)
	}
	if got := time.Duration(timeoutMS) * time.Millisecond; got != want {
		log.Warn("behind DB_POOLER=transaction the database's statement_timeout applies, and it differs from DB_STATEMENT_TIMEOUT",
			slog.Duration("database", got), slog.Duration("DB_STATEMENT_TIMEOUT", want),
			slog.String("fix", fmt.Sprintf("ALTER DATABASE … SET statement_timeout = '%dms'", want.Milliseconds())))
	}
	if jit != "off" {
		log.Warn("behind DB_POOLER=transaction the database's jit setting applies, and it is on: a big query can spend more compiling than running",
			slog.String("fix", "ALTER DATABASE … SET jit = off"))
	}
	return nil
}

// logWebhooks says at start which webhooks this replica accepts, so that an operator
// reading the log knows why one is refused without reading the settings.
func logWebhooks(log *slog.Logger, cfg *config.Config) {
	setOr := func(set bool, yes, no string) string {
		if set {
			return yes
		}
		return no
	}
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = "unset: no Shopify install flow, no webhook subscriptions"
	}
	log.Info("webhooks",
		slog.String("commerce7", "enabled: each client's own Basic pair"),
		slog.String("commerce7_global_pair", setOr(cfg.Commerce7WebhookUser != "",
			"set (deprecated): accepted for clients without their own pair", "unset: clients without their own pair are refused")),
		slog.String("shopify", "enabled: each client's own secret"),
		slog.String("shopify_app", setOr(cfg.ShopifyAppClientID != "",
			"configured: installs (/shopify/install) and its shops' webhooks", "not configured: no oauth clients")),
		slog.String("public_url", publicURL))
}

// Close closes the database pools.
func (s *Server) Close() {
	if s.readyPool != nil {
		s.readyPool.Close()
	}
	s.Core.Close()
}

// Run serves HTTP on ln (and /metrics on METRICS_ADDR when set) and runs the workers, the
// scheduler and the gauges until ctx ends (SIGTERM); then it stops the workers (running
// rows finish or are released) and the HTTP servers, each within SHUTDOWN_TIMEOUT. It
// closes ln.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	cfg, log := s.Config, s.Log
	srv := newHTTPServer(s.handler, log)
	var metricsLn net.Listener
	var metricsSrv *http.Server
	if s.metricsHandler != nil {
		var err error
		if metricsLn = s.metricsLn; metricsLn != nil {
			s.metricsLn = nil // Run closes it from here on
		} else if metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			ln.Close()
			return fmt.Errorf("listen on METRICS_ADDR %s: %w", cfg.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", s.metricsHandler)
		metricsSrv = newHTTPServer(mux, log)
		defer metricsSrv.Close() // on an early return; a no-op after Shutdown
	}
	if cfg.Workers == 0 {
		log.Info("WORKERS=0: this replica serves HTTP only")
	} else if err := s.Engine.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	// Every replica runs the scheduler: each slot's job_runs row goes to one of them.
	s.Scheduler.Start(ctx)
	go s.gauges.Run(ctx, cfg.MetricsInterval)
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving", slog.String("addr", ln.Addr().String()))
	if metricsSrv != nil {
		go func() { errc <- metricsSrv.Serve(metricsLn) }()
		log.Info("serving /metrics", slog.String("addr", metricsLn.Addr().String()))
	}

	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", slog.String("grace", cfg.ShutdownTimeout.String()))
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	// The workers first: a row running now gets the grace period to finish, and is
	// released (pending again, its attempt given back) if it does not.
	if err := s.Engine.Stop(sctx); err != nil {
		log.Error("stopping workers", slog.String("error", err.Error()))
	}
	if metricsSrv != nil {
		if err := metricsSrv.Shutdown(sctx); err != nil {
			return fmt.Errorf("graceful shutdown of the metrics listener: %w", err)
		}
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("metrics server: %w", err)
		}
	}
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	log.Info("stopped")
	return nil
}

// Serve builds a replica, runs it on ln until ctx ends, and closes it: `serve` in one call.
func Serve(ctx context.Context, cfg *config.Config, log *slog.Logger, ln net.Listener, handler queue.Handler) error {
	return ServeOn(ctx, cfg, log, ln, nil, handler)
}

// ServeOn is Serve with METRICS_ADDR's listener already open (nil: opened by Run), so
// that `serve` finds a busy address before it connects to anything. It closes both.
func ServeOn(ctx context.Context, cfg *config.Config, log *slog.Logger, ln, metricsLn net.Listener, handler queue.Handler) error {
	s, err := NewServer(ctx, cfg, log, handler)
	if err != nil {
		ln.Close()
		if metricsLn != nil {
			metricsLn.Close()
		}
		return err
	}
	defer s.Close()
	s.metricsLn = metricsLn
	return s.Run(ctx, ln)
}

func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
