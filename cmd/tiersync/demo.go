package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/config"
	"tiersync/internal/db"
	"tiersync/internal/devdb"
)

func runDemo(ctx context.Context, e env, args []string) (err error) {
	fs := newFlagSet(e, "demo", "demo [--keep] [flags]\n\n"+
		"Starts a private PostgreSQL (unless DATABASE_URL is set), migrates it and serves the API\n"+
		"until Ctrl-C. It prints the URL and the API token.")
	keep := fs.Bool("keep", false, "keep the private database (and leave it running) after Ctrl-C")
	load := config.Bind(fs, e.getenv, config.Database, config.Server)
	if err := parse(e, fs, args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	log := newLogger(e.stderr, cfg.LogLevel)

	if cfg.DatabaseURL == "" {
		cluster, err := devdb.Start(ctx, devdb.Options{Keep: *keep, Logf: func(f string, a ...any) {
			fmt.Fprintf(e.stderr, "devdb: "+f+"\n", a...)
		}})
		if err != nil {
			return err
		}
		defer func() {
			if stopErr := cluster.Stop(); stopErr != nil && err == nil {
				err = stopErr
			}
			if *keep {
				fmt.Fprintf(e.stdout, "private database kept in %s (port %d)\n", cluster.Dir(), cluster.Port())
			}
		}()
		if err := createDatabase(ctx, cluster.URL("postgres"), "tiersync"); err != nil {
			return err
		}
		cfg.DatabaseURL = cluster.URL("tiersync")
	}
	if err := db.MigrateUp(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	if cfg.APIToken == "" {
		cfg.APIToken = randomHex(24)
	}
	if cfg.SecretKey == nil {
		cfg.SecretKey = make([]byte, 32)
		_, _ = rand.Read(cfg.SecretKey)
	}
	if err := cfg.CheckServer(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.ListenAddr, err)
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(e.stdout, "tiersync demo is up\n  API:      %s/api/\n  health:   %s/healthz\n  token:    %s\n  database: %s\n"+
		"  try:      curl -H 'Authorization: Bearer %s' %s/api/clients\nCtrl-C stops it.\n",
		base, base, cfg.APIToken, redactURL(cfg.DatabaseURL), cfg.APIToken, base)
	return serve(ctx, cfg, log, ln, nil)
}

// createDatabase creates name on the server at adminURL unless it exists.
func createDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to private database: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("look for database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// redactURL hides a URL's password for printing.
func redactURL(u string) string {
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		return "(unparsable DATABASE_URL)"
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}
