package main

import (
	"context"
	"fmt"
	"net"

	"tiersync/internal/app"
	"tiersync/internal/cli"
	"tiersync/internal/config"
)

func runServe(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "serve", "serve [flags]\n\n"+
		"Serves the HTTP API, the webhooks and the admin page, and runs the sync workers and the\n"+
		"scheduler. Refuses to start on a database with no schema or with another TIERSYNC_SECRET_KEY.")
	load := config.Bind(fs, e.Getenv, config.Database, config.Server)
	config.MarkRequired(fs, config.EnvDatabaseURL, config.EnvAPIToken, config.EnvSecretKey)
	if err := cli.Parse(e, fs, args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	if err := cfg.CheckServer(); err != nil {
		return err
	}
	// Listen before anything else: a busy address is the commonest start failure (another
	// replica, an old process), and it should be said before the database is touched.
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on LISTEN_ADDR %s: %w", cfg.ListenAddr, err)
	}
	var metricsLn net.Listener
	if cfg.MetricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			ln.Close()
			return fmt.Errorf("listen on METRICS_ADDR %s: %w", cfg.MetricsAddr, err)
		}
	}
	return app.ServeOn(ctx, cfg, cli.Logger(e.Stderr, cfg), ln, metricsLn, nil)
}
