package main

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

	"tiersync/internal/alert"
	"tiersync/internal/api"
	"tiersync/internal/authlimit"
	"tiersync/internal/config"
	"tiersync/internal/crm"
	"tiersync/internal/crm/commerce7"
	"tiersync/internal/crm/shopify"
	"tiersync/internal/db"
	"tiersync/internal/jobs"
	"tiersync/internal/membership"
	"tiersync/internal/metrics"
	"tiersync/internal/queue"
	"tiersync/internal/schedule"
	"tiersync/internal/secretbox"
	"tiersync/internal/syncer"
	"tiersync/internal/web"
)

func runServe(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "serve", "serve [flags]")
	load := config.Bind(fs, e.getenv, config.Database, config.Server)
	if err := parse(e, fs, args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	if err := cfg.CheckServer(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.ListenAddr, err)
	}
	return serve(ctx, cfg, newLogger(e.stderr, cfg.LogLevel), ln, nil)
}

// serve runs the HTTP server on ln and the queue's workers until ctx ends (SIGTERM); then
// it stops the workers (running rows finish or are released) and the HTTP server, each
// within SHUTDOWN_TIMEOUT. The workers run handler, or the syncer over the configured
// CRMs when handler is nil.
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger, ln net.Listener, handler queue.Handler) error {
	pool, err := db.OpenWith(ctx, cfg.DatabaseURL, db.Options{MaxConns: int32(cfg.DBMaxConns), StatementTimeout: cfg.StatementTimeout})
	if err != nil {
		ln.Close()
		return err
	}
	defer pool.Close()
	// /readyz has a connection of its own: a probe that queued behind request traffic on a
	// busy pool would report a healthy replica dead and have it restarted.
	readyPool, err := db.OpenWith(ctx, cfg.DatabaseURL, db.Options{MaxConns: 1, StatementTimeout: readyTimeout})
	if err != nil {
		ln.Close()
		return err
	}
	defer readyPool.Close()
	if err := db.CheckReady(ctx, pool); err != nil {
		// Serve anyway: /readyz says 503 until the schema catches up, which is what a
		// rolling upgrade wants, and /healthz keeps the process from being restarted.
		log.Warn("not ready", slog.String("reason", err.Error()))
	}
	box, err := secretbox.New(cfg.SecretKey)
	if err != nil {
		ln.Close()
		return err
	}
	// The syncer needs the engine's rate limiter and the engine needs the syncer: the
	// handler reaches the syncer through this variable, set before the engine starts.
	var syn *syncer.Syncer
	if handler == nil {
		handler = func(ctx context.Context, j queue.Job) error { return syn.Handle(ctx, j) }
	}
	engine := queue.New(pool, handler, queue.Config{
		Workers:      cfg.Workers,
		NotifyMode:   cfg.NotifyMode,
		Lease:        cfg.QueueLease,
		PollInterval: cfg.PollInterval,
		BackoffBase:  cfg.BackoffBase,
		BackoffMax:   cfg.BackoffMax,
		Logger:       log,
	})
	store := membership.NewStore(pool, box)
	var c7Customer func(ctx context.Context, clientID, tenant, customerID string) (api.CRMCustomer, error)
	syn, c7Customer, err = newSyncer(cfg, pool, store, engine.Limiter(), log)
	if err != nil {
		ln.Close()
		return err
	}
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	queueMetrics, err := queue.NewMetrics(registry, engine)
	if err != nil {
		ln.Close()
		return fmt.Errorf("metrics: %w", err)
	}
	observeRequest, err := metrics.HTTP(registry)
	if err != nil {
		ln.Close()
		return fmt.Errorf("metrics: %w", err)
	}
	observeRun, err := metrics.Jobs(registry)
	if err != nil {
		ln.Close()
		return fmt.Errorf("metrics: %w", err)
	}
	deps := jobs.Deps{Pool: pool, Store: store, Engine: engine, ExpireBatchSize: cfg.ExpireBatchSize, QueueRetention: cfg.QueueRetention,
		Alerter: alert.New(pool, alert.Config{URL: cfg.AlertWebhookURL, PendingAge: cfg.AlertPendingAge, Interval: cfg.AlertInterval, Logger: log})}
	scheduler, err := jobs.Scheduler(deps, cfg.ScheduleExpire, cfg.ScheduleSync,
		schedule.Options{Runner: engine.WorkerID(), Logger: log, Observe: observeRun})
	if err != nil {
		ln.Close()
		return err
	}
	// One count of wrong tokens per address for the API and the admin login: both check the
	// same token.
	tokenLimiter := authlimit.New(authlimit.Config{})
	admin, err := web.New(web.Options{Token: cfg.APIToken, SecretKey: cfg.SecretKey, CookieSecure: cfg.CookieSecure,
		LoginLimiter: tokenLimiter, Pool: pool, Store: store, Engine: engine, Scheduler: scheduler, Logger: log})
	if err != nil {
		ln.Close()
		return err
	}
	metricsHandler := metrics.Handler(registry, log)
	apiMetrics := metricsHandler
	if cfg.MetricsAddr != "" {
		apiMetrics = nil // served on its own listener below
	}
	httpHandler := api.New(api.Options{
		Admin:          admin,
		Token:          cfg.APIToken,
		TokenLimiter:   tokenLimiter,
		Store:          store,
		Logger:         log,
		Ready:          func(ctx context.Context) error { return db.CheckReady(ctx, readyPool) },
		Metrics:        apiMetrics,
		RequestTimeout: cfg.RequestTimeout,
		// A replica without workers still waits: another replica may finish the row.
		Queue:             engine,
		Engine:            engine,
		Scheduler:         scheduler,
		ObserveRequest:    observeRequest,
		InlineSyncTimeout: cfg.InlineSyncTimeout,
		Webhooks: api.Webhooks{
			Commerce7User:     cfg.Commerce7WebhookUser,
			Commerce7Password: cfg.Commerce7WebhookPassword,
			Commerce7EchoUser: cfg.Commerce7EchoUser,
			ShopifySecret:     cfg.ShopifyWebhookSecret,
			Commerce7Customer: c7Customer,
		},
	})
	srv := newHTTPServer(httpHandler, log)
	var metricsLn net.Listener
	var metricsSrv *http.Server
	if cfg.MetricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			ln.Close()
			return fmt.Errorf("listen on METRICS_ADDR %s: %w", cfg.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metricsHandler)
		metricsSrv = newHTTPServer(mux, log)
		defer metricsSrv.Close() // on an early return; a no-op after Shutdown
	}
	switch {
	case cfg.Workers == 0:
		log.Info("WORKERS=0: this replica serves HTTP only")
	default:
		if err := engine.Start(ctx); err != nil {
			ln.Close()
			return err
		}
	}
	// Every replica runs the scheduler: each slot's job_runs row goes to one of them.
	scheduler.Start(ctx)
	go queueMetrics.Run(ctx, cfg.MetricsInterval)
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
	if err := engine.Stop(sctx); err != nil {
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

// Limits of the HTTP side (issue 16: each was found missing by a review).
const (
	// maxHeaderBytes caps a request's line and headers: no legitimate caller (a CRM, an
	// operator's curl, a browser) sends more, and Go's default is 1 MiB.
	maxHeaderBytes = 64 << 10
	// readyTimeout is the readiness probe's statement_timeout.
	readyTimeout = 2 * time.Second
)

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

// newSyncer builds the syncer over the CRMs this replica has credentials for. A CRM
// without them is logged: its rows fail their attempts with a message that says so, and
// come back with an operator's retry once it is configured.
//
// It also returns the Commerce7 customer lookup the webhooks need (nil without
// credentials).
func newSyncer(cfg *config.Config, pool *pgxpool.Pool, store *membership.Store, limiter crm.Limiter, log *slog.Logger) (
	*syncer.Syncer, func(ctx context.Context, clientID, tenant, customerID string) (api.CRMCustomer, error), error) {
	providers := map[string]syncer.ProviderFunc{}
	var c7Customer func(ctx context.Context, clientID, tenant, customerID string) (api.CRMCustomer, error)
	if cfg.Commerce7AppID != "" && cfg.Commerce7Key != "" {
		c7, err := commerce7.New(commerce7.Config{
			BaseURL: cfg.Commerce7APIURL,
			AppID:   cfg.Commerce7AppID,
			Key:     cfg.Commerce7Key,
			Timeout: crmTimeout(cfg.QueueLease),
			Limiter: limiter,
		})
		if err != nil {
			return nil, nil, err
		}
		providers["commerce7"] = func(_ context.Context, c syncer.Client) (crm.Provider, error) {
			return c7.Provider(c.ID, c.Tenant), nil
		}
		c7Customer = func(ctx context.Context, clientID, tenant, customerID string) (api.CRMCustomer, error) {
			c, err := c7.Provider(clientID, tenant).Customer(ctx, customerID)
			return api.CRMCustomer{Email: c.Email, FirstName: c.FirstName, LastName: c.LastName}, err
		}
	} else {
		log.Warn("COMMERCE7_APP_ID or COMMERCE7_KEY unset: Commerce7 rows cannot sync on this replica")
	}
	// Shopify needs no process-wide credentials: each shop's token is stored (sealed) with
	// its client and opened per row.
	sh, err := shopify.New(shopify.Config{
		BaseURL: cfg.ShopifyAPIURL,
		Version: cfg.ShopifyAPIVersion,
		Timeout: crmTimeout(cfg.QueueLease),
		Limiter: limiter,
	})
	if err != nil {
		return nil, nil, err
	}
	providers["shopify"] = func(ctx context.Context, c syncer.Client) (crm.Provider, error) {
		token, err := store.ShopifyToken(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		return sh.Provider(c.ID, c.Tenant, token), nil
	}
	return syncer.New(pool, providers), c7Customer, nil
}

// crmTimeout bounds one CRM request: well inside the lease (the heartbeat renews it every
// lease/3), and never more than 10 s, which no healthy CRM call needs.
func crmTimeout(lease time.Duration) time.Duration {
	return min(lease/3, 10*time.Second)
}
