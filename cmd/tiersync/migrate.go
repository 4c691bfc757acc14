package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"tiersync/internal/cli"
	"tiersync/internal/config"
	"tiersync/internal/db"
)

func runMigrate(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "migrate", "migrate up | down [--to VERSION] | status [flags]\n\n"+
		"  up      apply every pending migration\n"+
		"  down    roll back the newest migration, or every migration above --to (--to 0: all)\n"+
		"  status  list migrations and whether each is applied")
	to := fs.Int64("to", -1, "with down: roll back to this version (0 removes every table)")
	load := config.Bind(fs, e.Getenv, config.Database)
	config.MarkRequired(fs, config.EnvDatabaseURL)
	// The verb comes first (`migrate down --to 0`); flags may follow it.
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		args = append(args[1:], args[0])
	}
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
	if fs.NArg() != 1 {
		fs.Usage()
		return cli.ErrUsage
	}
	if cfg.Pooled() {
		// goose holds a session advisory lock while it migrates, so that replicas migrate
		// one at a time; through a transaction pooler that lock would stay behind on a
		// server session nobody owns, and block the next migration for good.
		return fmt.Errorf("DB_POOLER=%s: migrations hold a session lock that a transaction pooler cannot keep; "+
			"run `tiersync migrate` with DATABASE_URL reaching PostgreSQL itself (as DATABASE_LISTEN_URL does) and DB_POOLER=none", cfg.DBPooler)
	}
	m, err := db.NewMigrator(cfg.DatabaseURL, cli.Logger(e.Stderr, cfg))
	if err != nil {
		return err
	}
	defer m.Close()
	switch verb := fs.Arg(0); verb {
	case "up":
		// One line a migration on stdout, as it commits: what an operator watching a deploy
		// needs (goose's own log would print every statement's SQL).
		n, err := m.UpEach(ctx, func(a db.Applied) {
			fmt.Fprintf(e.Stdout, "applied %s (%s)\n", a.Name, a.Duration.Round(time.Millisecond))
		})
		if err != nil {
			return err
		}
		cur, _, err := m.Versions(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "applied %d migration(s); database at version %d\n", n, cur)
	case "down":
		var n int
		if *to >= 0 {
			n, err = m.DownTo(ctx, *to)
		} else {
			err = m.Down(ctx)
			n = 1
		}
		if err != nil {
			return err
		}
		cur, _, err := m.Versions(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "rolled back %d migration(s); database at version %d\n", n, cur)
	case "status":
		st, err := m.Status(ctx)
		if err != nil {
			return err
		}
		for _, s := range st {
			state := "pending"
			if s.Applied {
				state = "applied " + s.AppliedAt
			}
			fmt.Fprintf(e.Stdout, "%-6s %-40s %s\n", strconv.FormatInt(s.Version, 10), s.Name, state)
		}
	default:
		fs.Usage()
		return fmt.Errorf("unknown migrate command %q: use up, down or status", verb)
	}
	return nil
}
