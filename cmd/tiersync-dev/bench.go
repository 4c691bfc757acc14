package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strconv"
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
		{"reconcile", "a reconciliation of N members against a CRM fake: time, fraction of the CRM's rate-limit bound",
			"reconcile --members N (all in step) of one client against the --crm fake at its default limits; the time, and\n" +
				"the least time the CRM's limit allows as a fraction of it"},
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
	case "reconcile":
		return benchReconcile(ctx, e, args[1:])
	case "queue-replica": // one process of bench queue --replicas, not listed
		return benchQueueReplica(ctx, e, args[1:])
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
	fs := newFlagSet(e, "bench queue", "bench queue [--jobs N] [--clients C] [--workers W] [--retained M] [--replicas R [--pgbouncer S]]")
	jobs := fs.Int("jobs", 50_000, "rows to drain")
	clients := fs.Int("clients", 1, "wineries the rows are spread over evenly (10 rows per customer)")
	workers := fs.Int("workers", 16, "workers (of each replica)")
	retained := fs.Int("retained", 0, "completed rows in the table before the run, as 30 days of retention leave them")
	replicas := fs.Int("replicas", 0, "run the engine in this many processes, each with its own pool of WORKERS/2+8 connections (0: in this process)")
	bouncer := fs.Int("pgbouncer", 0, "with --replicas: the replicas connect through PgBouncer in transaction mode with this many server connections (DB_POOLER=transaction; LISTEN goes direct); 0: directly")
	cfg, err := cli.Settings(e, fs, args, config.Database)
	if err != nil {
		return err
	}
	if *jobs < 1 || *workers < 1 || *clients < 1 || *clients > *jobs || *retained < 0 || *replicas < 0 || *bouncer < 0 || (*bouncer > 0 && *replicas == 0) {
		return fmt.Errorf("--jobs and --workers must be at least 1, --clients between 1 and --jobs, --retained and --replicas at least 0, --pgbouncer only with --replicas")
	}
	if *replicas == 0 {
		return benchOnScratch(ctx, e, cfg.DatabaseURL, func(pool *pgxpool.Pool) (any, error) {
			return bench.Queue(ctx, pool, *jobs, *clients, *workers, *retained)
		})
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return benchOnScratchURL(ctx, e, cfg.DatabaseURL, func(pool *pgxpool.Pool, dbURL string) (any, error) {
		replicaURL, pooler := dbURL, ""
		if *bouncer > 0 {
			b, err := devdb.StartPgBouncer(ctx, dbURL, devdb.BouncerOptions{PoolSize: *bouncer})
			if err != nil {
				return nil, err
			}
			defer b.Stop() //nolint:errcheck
			replicaURL, pooler = b.URL(), "pgbouncer"
		}
		start := func() *exec.Cmd {
			args := []string{"bench", "queue-replica", "--workers", strconv.Itoa(*workers), "--url", replicaURL}
			if *bouncer > 0 {
				args = append(args, "--pooled", "--listen-url", dbURL)
			}
			cmd := exec.CommandContext(ctx, exe, args...)
			cmd.Stderr = e.Stderr
			return cmd
		}
		return bench.QueueReplicas(ctx, pool, *jobs, *clients, *workers, *retained, *replicas, pooler, start)
	})
}

func benchReconcile(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "bench reconcile", "bench reconcile [--members N] [--crm commerce7|shopify]")
	members := fs.Int("members", 100_000, "members of the client, all in step with the CRM")
	crmType := fs.String("crm", "commerce7", "the CRM's fake: commerce7 (100 requests a minute) or shopify (100 points a second)")
	cfg, err := cli.Settings(e, fs, args, config.Database)
	if err != nil {
		return err
	}
	return benchOnScratch(ctx, e, cfg.DatabaseURL, func(pool *pgxpool.Pool) (any, error) {
		return bench.Reconcile(ctx, pool, *crmType, *members)
	})
}

// benchQueueReplica is one process of bench queue --replicas (see bench.QueueReplica).
func benchQueueReplica(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "bench queue-replica", "bench queue-replica --url URL [--workers W] [--pooled] [--listen-url URL]")
	url := fs.String("url", "", "the database, or the pooler in front of it")
	workers := fs.Int("workers", 16, "workers")
	pooled := fs.Bool("pooled", false, "--url is a transaction pooler (DB_POOLER=transaction)")
	listen := fs.String("listen-url", "", "a direct URL for LISTEN")
	if err := cli.Parse(e, fs, args); err != nil {
		return err
	}
	pool, err := db.OpenWith(ctx, *url, db.Options{MaxConns: int32(config.DefaultMaxConns(*workers)), Pooled: *pooled})
	if err != nil {
		return err
	}
	defer pool.Close()
	return bench.QueueReplica(ctx, pool, *workers, *listen, os.Stdin, e.Stdout)
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
	return benchOnScratchURL(ctx, e, serverURL, func(pool *pgxpool.Pool, _ string) (any, error) { return run(pool) })
}

// benchOnScratchURL is benchOnScratch for a benchmark that also needs the database's URL.
func benchOnScratchURL(ctx context.Context, e env, serverURL string, run func(*pgxpool.Pool, string) (any, error)) error {
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
	res, err := run(pool, dbURL)
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
