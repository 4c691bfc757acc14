package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"tiersync/internal/api"
	"tiersync/internal/config"
	"tiersync/internal/db"
	"tiersync/internal/membership"
	"tiersync/internal/queue"
	"tiersync/internal/secretbox"
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

// serve runs the HTTP server on ln, and the queue's workers when there is a handler for
// them, until ctx ends (SIGTERM); then it stops the workers (running rows finish or are
// released) and the HTTP server, each within SHUTDOWN_TIMEOUT.
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger, ln net.Listener, handler queue.Handler) error {
	pool, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		ln.Close()
		return err
	}
	defer pool.Close()
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
	engine := queue.New(pool, handler, queue.Config{
		Workers:      cfg.Workers,
		NotifyMode:   cfg.NotifyMode,
		Lease:        cfg.QueueLease,
		PollInterval: cfg.PollInterval,
		BackoffBase:  cfg.BackoffBase,
		BackoffMax:   cfg.BackoffMax,
		Logger:       log,
	})
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if _, err := queue.NewMetrics(registry, engine); err != nil {
		ln.Close()
		return fmt.Errorf("metrics: %w", err)
	}
	httpHandler := api.New(api.Options{
		Token:   cfg.APIToken,
		Store:   membership.NewStore(pool, box),
		Logger:  log,
		Ready:   func(ctx context.Context) error { return db.CheckReady(ctx, pool) },
		Metrics: promhttp.HandlerFor(registry, promhttp.HandlerOpts{}),
	})
	srv := &http.Server{
		Handler:           httpHandler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	switch {
	case handler == nil:
		// The CRM layer that turns rows into Commerce7/Shopify calls is not wired in yet
		// (issue 5); rows wait in the queue rather than burn their attempts.
		log.Warn("no CRM handler: sync workers not started; rows stay pending")
	case cfg.Workers == 0:
		log.Info("WORKERS=0: this replica serves HTTP only")
	default:
		if err := engine.Start(ctx); err != nil {
			ln.Close()
			return err
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving", slog.String("addr", ln.Addr().String()))

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
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	log.Info("stopped")
	return nil
}
