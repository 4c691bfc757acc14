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
	fs := newFlagSet(e, "serve", "serve [flags]")
	cfg, err := cli.Settings(e, fs, args, config.Database, config.Server)
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
	return app.Serve(ctx, cfg, cli.NewLogger(e.Stderr, cfg.LogLevel), ln, nil)
}
