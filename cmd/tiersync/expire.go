package main

import (
	"context"
	"encoding/json"
	"fmt"

	"tiersync/internal/cli"
	"tiersync/internal/config"
	"tiersync/internal/db"
	"tiersync/internal/membership"
)

// runExpire expires every enrollment past its expires_at now (what the nightly job does),
// or with --dry-run lists what it would expire. It prints one JSON object.
func runExpire(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "expire", "expire [--dry-run] [--batch-size N] [flags]\n\n"+
		"Expires active enrollments past expires_at, in batches of one transaction each, clears the\n"+
		"customers' flags and queues one cancel_membership per enrollment. Prints\n"+
		`{"expired": N, "queued": N, "batches": N}; with --dry-run {"would_expire": N, "enrollments": [first 100]}.`)
	dry := fs.Bool("dry-run", false, "change nothing; list what would expire")
	batch := fs.Int("batch-size", membership.DefaultExpireBatch, "enrollments per transaction")
	load := config.Bind(fs, e.Getenv, config.Database)
	config.MarkRequired(fs, config.EnvDatabaseURL)
	if err := cli.Parse(e, fs, args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		return fmt.Errorf("%s is required", config.EnvDatabaseURL)
	}
	if *batch < 1 {
		return fmt.Errorf("--batch-size must be at least 1, got %d", *batch)
	}
	pool, err := db.OpenWith(ctx, cfg.DatabaseURL, db.Options{Pooled: cfg.Pooled()})
	if err != nil {
		return err
	}
	defer pool.Close()
	store := membership.NewStore(pool, nil)
	var out any
	if *dry {
		n, due, err := store.ExpireDryRun(ctx, 100)
		if err != nil {
			return err
		}
		out = map[string]any{"would_expire": n, "enrollments": due}
	} else {
		res, err := store.Expire(ctx, *batch, nil)
		if err != nil {
			return err
		}
		out = res
	}
	return json.NewEncoder(e.Stdout).Encode(out)
}
