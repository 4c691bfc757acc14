// Package db opens the PostgreSQL pool, runs the embedded goose migrations and
// offers a transaction helper. Every other package reaches the database through it.
package db

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Options shape a pool beyond what its URL says.
type Options struct {
	// MaxConns caps the pool (0: pgx's default, the larger of 4 and the number of CPUs).
	MaxConns int32
	// StatementTimeout is every connection's statement_timeout (0: the server's, usually
	// none). A request's own deadline cancels its queries too, but only while the client
	// waits; this also bounds the work nobody waits for.
	StatementTimeout time.Duration
	// Tracer observes every query (tests count them with it).
	Tracer pgx.QueryTracer
	// Pooled says a pooler in transaction mode (PgBouncer's pool_mode = transaction) sits
	// between the pool and PostgreSQL: each transaction may run on another server
	// session. Nothing may outlive a transaction then: no prepared statement kept by name
	// (queries describe themselves once per connection and run as unnamed statements), no
	// startup parameter (PgBouncer refuses those it does not know; StatementTimeout and
	// jit=off are then the role's to set), no session lock, no LISTEN.
	Pooled bool
}

// Open connects a pool to url with pgx's defaults and checks that the server answers.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	return OpenWith(ctx, url, Options{})
}

// OpenWith connects a pool to url shaped by opts and checks that the server answers.
func OpenWith(ctx context.Context, url string, opts Options) (*pgxpool.Pool, error) {
	cfg, err := PoolConfig(url, opts)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s: %w", redact(cfg), err)
	}
	return pool, nil
}

// PoolConfig is the pool OpenWith opens: url's settings shaped by opts.
func PoolConfig(url string, opts Options) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
		cfg.MinConns = 0
	}
	if opts.Tracer != nil {
		cfg.ConnConfig.Tracer = opts.Tracer
	}
	// application_name is one of the few startup parameters PgBouncer passes on.
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "tiersync"
	}
	if opts.Pooled {
		// pgx's default caches prepared statements by name on each connection; behind a
		// transaction pooler the next transaction may run on a session that has none of
		// them, or another client's of the same name. Caching only the description keeps
		// one round trip a query and prepares nothing by name.
		if cfg.ConnConfig.DefaultQueryExecMode == pgx.QueryExecModeCacheStatement {
			cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
		}
		return cfg, nil
	}
	if opts.StatementTimeout > 0 {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
	}
	// Every statement here is short OLTP work. The claim's estimated cost can cross
	// jit_above_cost on a big queue, and compiling it then costs 30-90 ms a claim: a
	// twentyfold slowdown measured with 50 000 rows. JIT never pays for itself here (the
	// claim also turns it off for its own transaction, which a pooler lets it do).
	if _, set := cfg.ConnConfig.RuntimeParams["jit"]; !set {
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	return cfg, nil
}

// redact names the server without the password, for error messages and logs.
func redact(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

// Querier is what both a pool and a transaction offer; functions that take one
// work inside the caller's transaction or on their own.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// InTx runs fn in a transaction, committing when it returns nil and rolling back otherwise.
func InTx(ctx context.Context, pool *pgxpool.Pool, fn func(tx pgx.Tx) error) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// PostgreSQL error codes the callers turn into HTTP statuses.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeUndefinedTable      = "42P01"
)

// UndefinedTable reports whether err is a statement on a table the schema does not have
// (yet: a replica newer than its schema during a rolling upgrade).
func UndefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == codeUndefinedTable
}

// UniqueViolation reports whether err is a unique violation, and of which constraint.
func UniqueViolation(err error) (constraint string, ok bool) {
	return violation(err, codeUniqueViolation)
}

// ForeignKeyViolation reports whether err is a foreign key violation, and of which constraint.
func ForeignKeyViolation(err error) (constraint string, ok bool) {
	return violation(err, codeForeignKeyViolation)
}

func violation(err error, code string) (string, bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == code {
		return pgErr.ConstraintName, true
	}
	return "", false
}

// SchemaVersion is the newest migration applied to the database (0 when none is).
func SchemaVersion(ctx context.Context, q Querier) (int64, error) {
	var v int64
	err := q.QueryRow(ctx, `
		SELECT CASE WHEN to_regclass('goose_db_version') IS NULL THEN 0
		            ELSE (SELECT coalesce(max(version_id), 0) FROM goose_db_version) END`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// ErrNoSchema means the database holds no tiersync schema at all: no migration applied.
var ErrNoSchema = errors.New("no tiersync schema")

// CheckReady reports why this binary cannot serve from the database yet: it does not
// answer, or its schema is older than the binary's migrations (ErrNoSchema too when no
// migration is applied). A newer schema is fine (a rolling upgrade migrates before the
// last old replica stops).
func CheckReady(ctx context.Context, q Querier) error {
	v, err := SchemaVersion(ctx, q)
	if err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	latest := LatestVersion()
	if v == 0 {
		return fmt.Errorf("database schema is at migration 0 (%w), this binary needs %d: run `tiersync migrate up`", ErrNoSchema, latest)
	}
	if v < latest {
		return fmt.Errorf("database schema is at migration %d, this binary needs %d: run `tiersync migrate up`", v, latest)
	}
	return nil
}
