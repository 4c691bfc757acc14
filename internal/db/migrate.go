package db

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"sort"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var embedded embed.FS

// migrationsFS is the migrations directory itself, as goose wants it.
func migrationsFS() fs.FS {
	sub, err := fs.Sub(embedded, "migrations")
	if err != nil {
		panic(err) // the directory is embedded at build time; it cannot be missing
	}
	return sub
}

// Migrator applies the embedded migrations. Several replicas may run it at once:
// a PostgreSQL advisory lock lets one apply them while the others wait.
type Migrator struct {
	sqlDB    *sql.DB
	provider *goose.Provider
}

// NewMigrator opens its own connection to url (goose speaks database/sql).
func NewMigrator(url string, logger *slog.Logger) (*Migrator, error) {
	sqlDB, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("open database for migrations: %w", err)
	}
	m, err := newMigrator(sqlDB, logger)
	if err != nil {
		sqlDB.Close()
		return nil, err
	}
	return m, nil
}

func newMigrator(sqlDB *sql.DB, logger *slog.Logger) (*Migrator, error) {
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(LockMigrations))
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	// Not verbose: goose's verbose log is every statement of every migration, SQL and all;
	// UpEach says what an operator needs, one line a migration.
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrationsFS(),
		goose.WithSessionLocker(locker), goose.WithSlog(logger))
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return &Migrator{sqlDB: sqlDB, provider: p}, nil
}

// Close releases the migrator's connection.
func (m *Migrator) Close() error { return m.sqlDB.Close() }

// Up applies every pending migration and returns how many it applied.
func (m *Migrator) Up(ctx context.Context) (int, error) {
	return m.UpEach(ctx, nil)
}

// Applied is one migration UpEach applied.
type Applied struct {
	Version  int64
	Name     string
	Duration time.Duration
}

// UpEach applies every pending migration one at a time, calling each (when not nil) as
// each one commits, so that a long migration's predecessors are reported before it
// starts. Each step takes the advisory lock, so replicas migrating at once still apply
// every migration once.
func (m *Migrator) UpEach(ctx context.Context, each func(Applied)) (int, error) {
	n := 0
	for {
		res, err := m.provider.UpByOne(ctx)
		if errors.Is(err, goose.ErrNoNextVersion) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("migrate up: %w", err)
		}
		n++
		if each != nil && res != nil && res.Source != nil {
			each(Applied{Version: res.Source.Version, Name: res.Source.Path, Duration: res.Duration})
		}
	}
}

// DownTo rolls back every migration newer than version (0: all of them).
func (m *Migrator) DownTo(ctx context.Context, version int64) (int, error) {
	res, err := m.provider.DownTo(ctx, version)
	if err != nil {
		return len(res), fmt.Errorf("migrate down to %d: %w", version, err)
	}
	return len(res), nil
}

// Down rolls back the newest applied migration.
func (m *Migrator) Down(ctx context.Context) error {
	if _, err := m.provider.Down(ctx); err != nil {
		return fmt.Errorf("migrate down: %w", err)
	}
	return nil
}

// MigrationState is one migration and whether it is applied.
type MigrationState struct {
	Version int64
	Name    string
	Applied bool
	// AppliedAt is zero when the migration is pending.
	AppliedAt string
}

// Status lists every embedded migration with its state.
func (m *Migrator) Status(ctx context.Context) ([]MigrationState, error) {
	st, err := m.provider.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]MigrationState, 0, len(st))
	for _, s := range st {
		ms := MigrationState{Version: s.Source.Version, Name: s.Source.Path, Applied: s.State == goose.StateApplied}
		if ms.Applied {
			ms.AppliedAt = s.AppliedAt.UTC().Format("2006-01-02T15:04:05Z")
		}
		out = append(out, ms)
	}
	return out, nil
}

// Versions returns the database's migration version and the newest embedded one.
func (m *Migrator) Versions(ctx context.Context) (current, latest int64, err error) {
	current, latest, err = m.provider.GetVersions(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("migration versions: %w", err)
	}
	return current, latest, nil
}

// MigrateUp is the one-call form: apply every pending migration to url.
func MigrateUp(ctx context.Context, url string) error {
	m, err := NewMigrator(url, nil)
	if err != nil {
		return err
	}
	defer m.Close()
	_, err = m.Up(ctx)
	return err
}

// LatestVersion is the newest embedded migration's version.
func LatestVersion() int64 {
	var latest int64
	for _, name := range migrationNames() {
		var v int64
		if _, err := fmt.Sscanf(name, "%d_", &v); err == nil && v > latest {
			latest = v
		}
	}
	return latest
}

// MigrationsFingerprint is a short hash of every embedded migration file, so that a
// migrated template database built by an older binary is never mistaken for this one's.
func MigrationsFingerprint() string {
	h := sha256.New()
	for _, name := range migrationNames() {
		b, err := fs.ReadFile(migrationsFS(), name)
		if err != nil {
			panic(err) // embedded at build time
		}
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func migrationNames() []string {
	entries, err := fs.ReadDir(migrationsFS(), ".")
	if err != nil {
		panic(err) // embedded at build time
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// Registers the "pgx" database/sql driver that goose uses.
var _ = stdlib.GetDefaultDriver
