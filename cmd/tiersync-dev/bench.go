package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/bench"
	"tiersync/internal/cli"
	"tiersync/internal/config"
	"tiersync/internal/db"
	"tiersync/internal/devdb"
	"tiersync/internal/membership"
)

// benches are the benchmarks, each with what it does: `bench --help` and the top-level
// help both list them from here.
func benches() [][3]string {
	return [][3]string{
		{"queue", "rows/s of the engine draining a backlog", "drain --jobs N rows through the engine with --workers W and a no-op handler"},
		{"expire", "the nightly expiration of N enrollments under load", "expire --enrollments N past their end (with their cancel rows) in --batch-size\n" +
			"transactions while new enrollments keep committing"},
		{"e2e", "enrollments through the API to a fake Commerce7: rate, p50/p99", "--enrollments N through the API of a real server syncing to a fake Commerce7 with\n" +
			"--latency per request; rate, and p50/p99 from the POST to the membership in the CRM"},
		{"report", "docs/benchmarks.md's section from a `make bench` run", "turn a `make bench` run's JSON lines (--in) into docs/benchmarks.md's section (not a benchmark)"},
	}
}

// benchDetails are the benches as the top-level help lists them, one line each.
func benchDetails() []string {
	var out []string
	for _, b := range benches() {
		out = append(out, fmt.Sprintf("%-7s %s", b[0], b[1]))
	}
	return out
}

func runBench(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		var b strings.Builder
		b.WriteString("Usage: tiersync-dev bench <name> [flags]\n\nBenchmarks (each prints one JSON line):\n")
		for _, bb := range benches() {
			fmt.Fprintf(&b, "  %-7s %s\n", bb[0], strings.ReplaceAll(bb[2], "\n", "\n          "))
		}
		b.WriteString("\nEach runs in a fresh database: a private PostgreSQL when DATABASE_URL is unset, else a\n" +
			"new database on DATABASE_URL's server (dropped afterwards; needs CREATEDB).")
		fmt.Fprintln(e.Stdout, b.String())
		if len(args) == 0 {
			return cli.ErrUsage
		}
		return nil
	}
	switch args[0] {
	case "queue":
		return benchQueue(ctx, e, args[1:])
	case "expire":
		return benchExpire(ctx, e, args[1:])
	case "e2e":
		return benchE2E(ctx, e, args[1:])
	case "report":
		return benchReport(ctx, e, args[1:])
	}
	return fmt.Errorf("unknown benchmark %q (try: tiersync-dev bench --help)", args[0])
}

func benchQueue(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "bench queue", "bench queue [--jobs N] [--clients C] [--workers W] [--retained M]")
	jobs := fs.Int("jobs", 50_000, "rows to drain")
	clients := fs.Int("clients", 1, "wineries the rows are spread over evenly (10 rows per customer)")
	workers := fs.Int("workers", 16, "workers")
	retained := fs.Int("retained", 0, "completed rows in the table before the run, as 30 days of retention leave them")
	cfg, err := cli.Settings(e, fs, args, config.Database)
	if err != nil {
		return err
	}
	if *jobs < 1 || *workers < 1 || *clients < 1 || *clients > *jobs || *retained < 0 {
		return fmt.Errorf("--jobs and --workers must be at least 1, --clients between 1 and --jobs, --retained at least 0")
	}
	return benchOnScratch(ctx, e, cfg.DatabaseURL, func(pool *pgxpool.Pool) (any, error) {
		return bench.Queue(ctx, pool, *jobs, *clients, *workers, *retained)
	})
}

func benchExpire(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "bench expire", "bench expire [--enrollments N] [--batch-size B]")
	n := fs.Int("enrollments", 1_000_000, "enrollments to expire")
	batch := fs.Int("batch-size", membership.DefaultExpireBatch, "enrollments per transaction")
	cfg, err := cli.Settings(e, fs, args, config.Database)
	if err != nil {
		return err
	}
	if *n < 1 || *batch < 1 {
		return fmt.Errorf("--enrollments and --batch-size must be at least 1")
	}
	return benchOnScratch(ctx, e, cfg.DatabaseURL, func(pool *pgxpool.Pool) (any, error) {
		return bench.Expire(ctx, pool, *n, *batch)
	})
}

// benchOnScratch runs a benchmark in a fresh database (see scratchDatabase) and prints its
// result as one JSON line.
func benchOnScratch(ctx context.Context, e env, serverURL string, run func(*pgxpool.Pool) (any, error)) error {
	dbURL, cleanup, _, err := scratchDatabase(ctx, e, serverURL, "tiersync_bench")
	if err != nil {
		return err
	}
	defer cleanup()
	pool, err := db.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	res, err := run(pool)
	if err != nil {
		return err
	}
	return json.NewEncoder(e.Stdout).Encode(res)
}

// scratchDatabase makes a fresh, migrated database: on a private cluster when serverURL is
// empty, else on that server. cleanup drops it (and stops the private cluster).
//
// stopHint says how to remove by hand what cleanup would have removed (the database, and
// the private PostgreSQL when one was started), for a caller that keeps them.
func scratchDatabase(ctx context.Context, e env, serverURL, prefix string) (dbURL string, cleanup func(), stopHint string, err error) {
	stop := func() {}
	clusterHint := ""
	if serverURL == "" {
		cluster, err := devdb.Start(ctx, devdb.Options{Logf: func(f string, a ...any) {
			fmt.Fprintf(e.Stderr, "devdb: "+f+"\n", a...)
		}})
		if err != nil {
			return "", nil, "", err
		}
		stop = func() { _ = cluster.Stop() }
		clusterHint = cluster.StopCommand()
		serverURL = cluster.URL("postgres")
	}
	name := prefix + "_" + randomHex(4)
	if err := createDatabase(ctx, serverURL, name); err != nil {
		stop()
		return "", nil, "", err
	}
	dbURL, err = withDatabase(serverURL, name)
	if err != nil {
		stop()
		return "", nil, "", err
	}
	drop := func() {
		conn, err := pgx.Connect(context.Background(), serverURL)
		if err == nil {
			_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
			conn.Close(context.Background())
		}
		stop()
	}
	if err := db.MigrateUp(ctx, dbURL); err != nil {
		drop()
		return "", nil, "", err
	}
	stopHint = "the private PostgreSQL is still running; stop it and remove its files with:\n  " + clusterHint
	if clusterHint == "" {
		stopHint = "drop the database when done with it:\n  psql '" + redactURL(serverURL) + "' -c 'DROP DATABASE " + name + "'"
	}
	return dbURL, drop, stopHint, nil
}

// withDatabase returns serverURL pointing at database name instead.
func withDatabase(serverURL, name string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil || !strings.HasPrefix(u.Scheme, "postgres") {
		return "", fmt.Errorf("%s must be a postgres:// URL to create a scratch database on its server", config.EnvDatabaseURL)
	}
	u.Path = "/" + name
	return u.String(), nil
}
