// Package app is tiersync's composition root: it builds the parts from the configuration
// in dependency order — the database pool, the store, the rate limiter, the CRM clients,
// the syncer, the queue engine, the jobs and their scheduler, and (server.go) the HTTP
// handlers and servers — so that `serve` and the operator commands run the same wiring,
// and no part is handed another before it exists.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/alert"
	"tiersync/internal/config"
	"tiersync/internal/db"
	"tiersync/internal/jobs"
	"tiersync/internal/membership"
	"tiersync/internal/queue"
	"tiersync/internal/reconcile"
	"tiersync/internal/schedule"
	"tiersync/internal/secretbox"
	"tiersync/internal/shopifyapp"
	"tiersync/internal/syncer"
)

// Core is everything but HTTP: what `serve` runs and what the operator commands use.
type Core struct {
	Config    *config.Config
	Log       *slog.Logger
	Pool      *pgxpool.Pool
	Store     *membership.Store
	Engine    *queue.Queue
	Syncer    *syncer.Syncer // nil when CoreOptions.Handler replaces it
	Scheduler *schedule.Scheduler
	// Reconciler runs reconcile-memberships and reads its reports.
	Reconciler *reconcile.Reconciler
	// CRMs are the CRM clients this replica has credentials for.
	CRMs CRMs
	// Shopify keeps the Shopify clients' connections and tokens (nil without
	// TIERSYNC_SECRET_KEY: nothing could be sealed or opened).
	Shopify *shopifyapp.Store
}

// CoreOptions vary the core for a caller.
type CoreOptions struct {
	// Handler runs the queue's rows instead of the syncer (tests and benchmarks).
	Handler queue.Handler
	// RunnerPrefix goes before the engine's worker id in job_runs ("cli-" for the
	// operator commands).
	RunnerPrefix string
	// ObserveRun is told of every job run (metrics); nil: nobody.
	ObserveRun func(job, status string, d time.Duration)
}

// NewCore opens the database and builds the core. The caller closes it.
func NewCore(ctx context.Context, cfg *config.Config, log *slog.Logger, o CoreOptions) (*Core, error) {
	pool, err := db.OpenWith(ctx, cfg.DatabaseURL, db.Options{MaxConns: int32(cfg.DBMaxConns), StatementTimeout: cfg.StatementTimeout, Pooled: cfg.Pooled()})
	if err != nil {
		return nil, err
	}
	c, err := newCore(pool, cfg, log, o)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return c, nil
}

func newCore(pool *pgxpool.Pool, cfg *config.Config, log *slog.Logger, o CoreOptions) (*Core, error) {
	c := &Core{Config: cfg, Log: log, Pool: pool}
	// Without a key the store still reads and writes everything but stored CRM tokens:
	// enough for the operator commands that need no Shopify call.
	var box *secretbox.Box
	if cfg.SecretKey != nil {
		var err error
		if box, err = secretbox.New(cfg.SecretKey); err != nil {
			return nil, err
		}
	}
	c.Store = membership.NewStore(pool, box)
	limiter := queue.NewLimiter(pool, nil)
	crms, err := newCRMs(cfg, limiter, limiter.Low(), log)
	if err != nil {
		return nil, err
	}
	c.CRMs = crms
	if box != nil {
		c.Shopify = shopifyapp.New(shopifyapp.Config{Pool: pool, Box: box, Grants: crms.Shopify, App: shopifyapp.App{
			ClientID: cfg.ShopifyAppClientID, ClientSecret: cfg.ShopifyAppClientSecret, Scopes: cfg.ShopifyAppScopes}})
	}
	handler := o.Handler
	if handler == nil {
		c.Syncer = syncer.New(pool, c.Store, crms.providers(c.Shopify))
		handler = c.Syncer.Handle
	}
	notify := "poll"
	if cfg.Listens() {
		notify = "listen"
	}
	c.Engine = queue.New(pool, handler, queue.Config{
		Workers:      cfg.Workers,
		NotifyMode:   notify,
		ListenURL:    cfg.DatabaseListenURL,
		Lease:        cfg.QueueLease,
		PollInterval: cfg.PollInterval,
		BackoffBase:  cfg.BackoffBase,
		BackoffMax:   cfg.BackoffMax,
		Logger:       log,
		Limiter:      limiter,
	})
	runner := o.RunnerPrefix + c.Engine.WorkerID()
	// The alerts read the Shopify connections' states through shopifyapp; a nil *Store in
	// the interface would not be a nil interface.
	var conns alert.Connections
	if c.Shopify != nil {
		conns = c.Shopify
	}
	alerter := alert.New(pool, alert.Config{URL: cfg.AlertWebhookURL, PendingAge: cfg.AlertPendingAge, Interval: cfg.AlertInterval, Logger: log,
		Connections: conns})
	threshold := cfg.ReconcileAlertThreshold
	if threshold == 0 {
		threshold = -1 // the setting's 0 is "never"
	}
	c.Reconciler = reconcile.New(reconcile.Config{Pool: pool, Listers: crms.listers(c.Shopify), Concurrency: cfg.ReconcileConcurrency,
		AlertThreshold: threshold, Alert: alerter.Send, Logger: log})
	deps := jobs.Deps{Pool: pool, Store: c.Store, Engine: c.Engine, ExpireBatchSize: cfg.ExpireBatchSize, QueueRetention: cfg.QueueRetention,
		Alerter: alerter, Reconciler: c.Reconciler}
	c.Scheduler, err = jobs.Scheduler(deps, jobs.Specs{Expire: cfg.ScheduleExpire, Sync: cfg.ScheduleSync, Reconcile: cfg.ScheduleReconcile},
		schedule.Options{Runner: runner, Logger: log, Observe: o.ObserveRun})
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	return c, nil
}

// Close closes the database pool.
func (c *Core) Close() { c.Pool.Close() }
