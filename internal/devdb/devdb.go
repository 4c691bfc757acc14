// Package devdb runs a private PostgreSQL cluster from the system's server binaries, for
// tests and the demo when no DATABASE_URL is given. It needs no Docker and no running
// service: initdb + pg_ctl in a directory of its own, on a free port.
package devdb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options choose the cluster.
type Options struct {
	// Dir is the cluster's directory; empty means a fresh one under os.TempDir(), removed
	// by Stop unless Keep.
	Dir string
	// Shared uses the one well-known cluster every test process of this user shares
	// (go test runs packages as parallel processes); the last user to Stop stops it.
	Shared bool
	// Keep leaves the cluster running, and its files in place, on Stop.
	Keep bool
	// Logf reports progress; nil is silent.
	Logf func(format string, args ...any)
}

// Cluster is a running private PostgreSQL.
type Cluster struct {
	dir     string
	port    int
	bin     string
	asUser  string // "postgres" when we run as root (initdb refuses root), else ""
	keep    bool
	shared  *sharedLock
	stopped bool
	logf    func(string, ...any)
}

// URL returns a URL for database dbname, over TCP, as the superuser "postgres".
func (c *Cluster) URL(dbname string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, dbname)
}

// Port is the TCP port the server listens on (127.0.0.1 only).
func (c *Cluster) Port() int { return c.port }

// Dir is the cluster's directory: data/, the server log and the socket directory.
func (c *Cluster) Dir() string { return c.dir }

// StopCommand is the shell command that stops the cluster and removes its directory: what
// someone who kept it (tiersync-dev demo --keep) runs when done with it.
func (c *Cluster) StopCommand() string {
	pgctl := filepath.Join(c.bin, "pg_ctl") + " -D " + c.dataDir() + " stop"
	if c.asUser != "" {
		pgctl = "runuser -u " + c.asUser + " -- " + pgctl
	}
	return pgctl + " && rm -rf " + c.dir
}

// Start starts (or, shared, joins) a cluster.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	c, err := prepare(ctx, opts)
	if err != nil {
		return nil, err
	}
	if opts.Shared {
		return c.startShared(ctx, SharedDir())
	}
	if err := c.startPrivate(ctx, opts.Dir); err != nil {
		return nil, err
	}
	return c, nil
}

// startSharedIn joins the shared cluster kept in dir (tests use their own dir).
func startSharedIn(ctx context.Context, dir string) (*Cluster, error) {
	c, err := prepare(ctx, Options{})
	if err != nil {
		return nil, err
	}
	return c.startShared(ctx, dir)
}

// prepare finds (or installs) the binaries and decides which user runs them.
func prepare(ctx context.Context, opts Options) (*Cluster, error) {
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	bin, err := FindBinaries()
	if errors.Is(err, errNoBinaries) && canInstall() {
		logf("PostgreSQL server binaries not found: installing the Debian package postgresql")
		if ierr := install(ctx); ierr != nil {
			return nil, fmt.Errorf("%w (and installing them failed: %v)", err, ierr)
		}
		bin, err = FindBinaries()
	}
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin, keep: opts.Keep, logf: logf}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			return nil, errors.New("running as root, and initdb refuses root: a 'postgres' user is needed to own the private cluster (the Debian package postgresql creates it)")
		}
		c.asUser = "postgres"
	}
	return c, nil
}

func (c *Cluster) startPrivate(ctx context.Context, dir string) error {
	c.dir = dir
	if c.dir == "" {
		// A short path: the socket path must stay under 107 bytes.
		var err error
		if c.dir, err = os.MkdirTemp("", "tsdb-"); err != nil {
			return fmt.Errorf("devdb: %w", err)
		}
	}
	if err := c.initAndStart(ctx); err != nil {
		if dir == "" {
			os.RemoveAll(c.dir)
		}
		return err
	}
	return nil
}

var errNoBinaries = errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin or on PATH: " +
	"install them (Debian/Ubuntu: apt-get install postgresql) or set DATABASE_URL to an existing server")

// FindBinaries returns the directory holding initdb, pg_ctl and postgres: the newest
// /usr/lib/postgresql/<version>/bin, else the one on PATH.
func FindBinaries() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if hasServer(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && hasServer(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	return "", errNoBinaries
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func hasServer(dir string) bool {
	for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
		if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
			return false
		}
	}
	return true
}

func canInstall() bool {
	if os.Geteuid() != 0 {
		return false
	}
	_, err := exec.LookPath("apt-get")
	return err == nil
}

func install(ctx context.Context) error { return InstallPackage(ctx, "postgresql") }

// InstallPackage installs a Debian package with apt-get (the caller checks it may: root).
// Other test processes may be installing at the same moment (Chromium, PgBouncer): apt
// waits for the package lock, and a failed `apt-get update` (its lists lock taken by
// another) is not fatal when the install then succeeds on the lists the other one fetched.
func InstallPackage(ctx context.Context, pkg string) error {
	apt := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "apt-get", append([]string{"-o", "DPkg::Lock::Timeout=600"}, args...)...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, tail(string(out), 20))
		}
		return nil
	}
	install := func() error { return apt("install", "-y", "--no-install-recommends", pkg) }
	if install() == nil {
		return nil // the package lists were fresh enough
	}
	updateErr := apt("update")
	if err := install(); err != nil {
		return errors.Join(err, updateErr)
	}
	return nil
}

// run runs a server binary, as the postgres user when we are root.
func (c *Cluster) run(ctx context.Context, name string, args ...string) error {
	path := filepath.Join(c.bin, name)
	var cmd *exec.Cmd
	if c.asUser != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", c.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	// pg_ctl start leaves the server running with our stdout open unless told otherwise:
	// the server writes to its log file, and the pipe must not keep this call waiting.
	cmd.Stdin = nil
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, tail(string(out), 20))
	}
	return nil
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }
func (c *Cluster) logFile() string { return filepath.Join(c.dir, "server.log") }
func (c *Cluster) sockDir() string { return filepath.Join(c.dir, "s") }

// initAndStart creates the cluster in c.dir if it has none, then starts it on a free port.
func (c *Cluster) initAndStart(ctx context.Context) error {
	// The postgres user must be able to reach its directory: MkdirTemp makes 0700 dirs.
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("devdb: %w", err)
	}
	if err := os.Chmod(c.dir, 0o755); err != nil {
		return fmt.Errorf("devdb: %w", err)
	}
	for _, d := range []string{c.sockDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("devdb: %w", err)
		}
	}
	if err := c.chown(c.dir, c.sockDir()); err != nil {
		return err
	}
	if err := c.checkTraversable(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(c.dataDir(), "PG_VERSION")); err != nil {
		os.RemoveAll(c.dataDir()) // a half-made data directory from a crashed run
		c.logf("initdb in %s", c.dataDir())
		if err := c.run(ctx, "initdb", "-D", c.dataDir(), "-A", "trust", "-U", "postgres",
			"--encoding=UTF8", "--locale=C", "--no-sync"); err != nil {
			return fmt.Errorf("devdb: %w", err)
		}
	}
	// A server killed without pg_ctl stop leaves a postmaster.pid behind; pg_ctl start
	// copes when the pid is dead, so only a live server is a problem, and we stop it.
	_ = c.run(ctx, "pg_ctl", "-D", c.dataDir(), "-m", "immediate", "-w", "stop")

	var lastErr error
	for try := 0; try < 3; try++ {
		port, err := freePort()
		if err != nil {
			return fmt.Errorf("devdb: free port: %w", err)
		}
		opts := strings.Join([]string{
			"-p " + strconv.Itoa(port),
			"-c listen_addresses=127.0.0.1",
			"-c unix_socket_directories=" + c.sockDir(),
			// A throwaway cluster: durability is not wanted, speed is.
			"-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off",
			"-c max_connections=300", "-c shared_buffers=128MB",
		}, " ")
		os.Remove(c.logFile())
		if err := c.touchLog(); err != nil {
			return err
		}
		lastErr = c.run(ctx, "pg_ctl", "-D", c.dataDir(), "-l", c.logFile(), "-w", "-t", "60", "-o", opts, "start")
		if lastErr == nil {
			c.port = port
			c.logf("PostgreSQL running on 127.0.0.1:%d (%s)", port, c.dir)
			return nil
		}
		log, _ := os.ReadFile(c.logFile())
		lastErr = fmt.Errorf("%w\nserver log:\n%s", lastErr, tail(string(log), 20))
		if !strings.Contains(string(log), "in use") {
			break // not a port race: retrying will not help
		}
	}
	return fmt.Errorf("devdb: start PostgreSQL: %w", lastErr)
}

// touchLog creates the server log owned by the server's user, so pg_ctl can write it.
func (c *Cluster) touchLog() error {
	f, err := os.OpenFile(c.logFile(), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("devdb: %w", err)
	}
	f.Close()
	return c.chown(c.logFile())
}

// checkTraversable names the first directory above the cluster that the postgres user
// cannot enter, instead of leaving initdb to say "Permission denied" about the data dir.
func (c *Cluster) checkTraversable() error {
	if c.asUser == "" {
		return nil
	}
	for d := filepath.Dir(c.dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("devdb: %w", err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("devdb: the %s user cannot enter %s (mode %v), so it cannot reach the cluster in %s: "+
				"choose a directory under a path everyone may traverse (chmod o+x)", c.asUser, d, fi.Mode().Perm(), c.dir)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

func (c *Cluster) chown(paths ...string) error {
	if c.asUser == "" {
		return nil
	}
	u, err := user.Lookup(c.asUser)
	if err != nil {
		return fmt.Errorf("devdb: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, p := range paths {
		if err := os.Chown(p, uid, gid); err != nil {
			return fmt.Errorf("devdb: %w", err)
		}
	}
	return nil
}

// Stop stops the server and removes its directory, unless Keep. A shared cluster is
// stopped only by its last user. Stop is idempotent.
func (c *Cluster) Stop() error {
	if c.stopped {
		return nil
	}
	c.stopped = true
	if c.shared != nil {
		return c.leaveShared()
	}
	if c.keep {
		return nil
	}
	return c.stopAndRemove()
}

func (c *Cluster) stopAndRemove() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := c.run(ctx, "pg_ctl", "-D", c.dataDir(), "-m", "fast", "-w", "-t", "60", "stop")
	if rmErr := os.RemoveAll(c.dir); rmErr != nil && err == nil {
		err = rmErr
	}
	if err != nil {
		return fmt.Errorf("devdb: stop: %w", err)
	}
	return nil
}

// running reports whether a server answers on the cluster's port.
func (c *Cluster) running() bool {
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", c.port), time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return c.run(context.Background(), "pg_ctl", "-D", c.dataDir(), "status") == nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// flock takes a lock on path (created if needed); exclusive or shared, blocking or not.
func flock(path string, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
