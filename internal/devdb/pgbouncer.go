package devdb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// BouncerOptions shape a PgBouncer.
type BouncerOptions struct {
	// PoolSize is default_pool_size: the server connections it opens to the database [20].
	PoolSize int
	// Settings are more [pgbouncer] settings (a README's, say); pool_mode defaults to
	// transaction. Where it listens, how clients authenticate and its files are this
	// package's and override them.
	Settings map[string]string
}

// PgBouncer is a running pgbouncer (Debian's package) in front of one database.
type PgBouncer struct {
	cmd    *exec.Cmd
	dir    string
	url    string
	exited chan struct{}
}

// URL reaches the target database through the pooler.
func (b *PgBouncer) URL() string { return b.url }

// StartPgBouncer runs pgbouncer in front of the database at target (a postgres:// URL),
// installing the package when it is missing and this process may (root with apt-get).
func StartPgBouncer(ctx context.Context, target string, opts BouncerOptions) (*PgBouncer, error) {
	exe, err := pgbouncerBinary(ctx)
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(target)
	if err != nil {
		return nil, fmt.Errorf("pgbouncer: target: %w", err)
	}
	if opts.PoolSize <= 0 {
		opts.PoolSize = 20
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	// pgbouncer refuses to run as root: it switches to postgres, which must reach the
	// directory, read the configuration and write the log.
	dir, err := os.MkdirTemp("", "tiersync-pgbouncer-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	settings := map[string]string{"pool_mode": "transaction", "max_client_conn": "1000"}
	for k, v := range opts.Settings {
		settings[k] = v
	}
	delete(settings, "auth_file")
	for k, v := range map[string]string{
		"listen_addr": "127.0.0.1", "listen_port": strconv.Itoa(port), "unix_socket_dir": "",
		// any: the [databases] line logs in as the target's user, whatever the client says.
		"auth_type": "any", "default_pool_size": strconv.Itoa(opts.PoolSize), "reserve_pool_size": "0",
		"logfile": filepath.Join(dir, "pgbouncer.log"), "pidfile": "",
	} {
		settings[k] = v
	}
	line := fmt.Sprintf("host=%s port=%d dbname=%s user=%s", cfg.Host, cfg.Port, cfg.Database, cfg.User)
	if cfg.Password != "" {
		line += " password=" + cfg.Password
	}
	ini := fmt.Sprintf("[databases]\n%s = %s\n\n[pgbouncer]\n", cfg.Database, line)
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ini += k + " = " + settings[k] + "\n"
	}
	path := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(path, []byte(ini), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	args := []string{path}
	if os.Geteuid() == 0 {
		args = []string{"-u", "postgres", path}
	}
	b := &PgBouncer{cmd: exec.Command(exe, args...), dir: dir, exited: make(chan struct{}),
		url: fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", cfg.User, port, cfg.Database)}
	if err := b.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgbouncer: %w", err)
	}
	go func() { _ = b.cmd.Wait(); close(b.exited) }()
	// Ready once it answers a query through the pool.
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, b.url)
		if err == nil {
			conn.Close(ctx)
			return b, nil
		}
		select {
		case <-b.exited:
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgbouncer exited: %s", tail(string(log), 10))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = b.Stop()
			return nil, fmt.Errorf("pgbouncer: not answering after 20s: %w", err)
		}
	}
}

// Stop stops pgbouncer and removes its files.
func (b *PgBouncer) Stop() error {
	_ = b.cmd.Process.Signal(syscall.SIGINT)
	<-b.exited
	return os.RemoveAll(b.dir)
}

// pgbouncerBinary finds pgbouncer, installing Debian's package when it is missing and this
// process may: the test that needs it must run in CI, not skip. Two installs at once
// wait for each other on apt's lock.
func pgbouncerBinary(ctx context.Context) (string, error) {
	find := func() (string, error) {
		if p, err := exec.LookPath("pgbouncer"); err == nil {
			return p, nil
		}
		if _, err := os.Stat("/usr/sbin/pgbouncer"); err == nil {
			return "/usr/sbin/pgbouncer", nil
		}
		return "", errors.New("no pgbouncer: install Debian's pgbouncer package (apt-get install pgbouncer)")
	}
	if p, err := find(); err == nil || !canInstall() {
		return p, err
	}
	if err := InstallPackage(ctx, "pgbouncer"); err != nil {
		return "", err
	}
	return find()
}
