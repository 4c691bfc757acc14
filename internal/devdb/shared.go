package devdb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The shared test cluster lives in a well-known directory. Two flocks coordinate the
// test processes that `go test ./...` runs in parallel:
//   - setup.lock, held exclusively around starting and stopping, so a process never
//     joins a cluster that another is tearing down;
//   - users.lock, held shared by every process using the cluster for its lifetime; whoever
//     can take it exclusively when leaving is the last user, and stops the cluster.
//
// The kernel drops a dead process's flocks, so a crashed run wedges nothing.
type sharedLock struct {
	users *os.File
}

// SharedDir is the shared test cluster's directory for this user.
func SharedDir() string {
	return filepath.Join(os.TempDir(), "tiersync-devdb-"+strconv.Itoa(os.Getuid()))
}

func (c *Cluster) startShared(ctx context.Context, dir string) (*Cluster, error) {
	c.dir = dir
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, fmt.Errorf("devdb: %w", err)
	}
	setup, err := flock(filepath.Join(c.dir, "setup.lock"), syscall.LOCK_EX)
	if err != nil {
		return nil, fmt.Errorf("devdb: lock shared cluster: %w", err)
	}
	defer setup.Close() // closing drops the lock
	users, err := flock(filepath.Join(c.dir, "users.lock"), syscall.LOCK_SH)
	if err != nil {
		return nil, fmt.Errorf("devdb: join shared cluster: %w", err)
	}
	portFile := filepath.Join(c.dir, "port")
	if b, err := os.ReadFile(portFile); err == nil {
		if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			c.port = p
			if c.running() {
				c.shared = &sharedLock{users: users}
				return c, nil
			}
		}
	}
	// None running (first user, or the last run crashed): start one.
	os.Remove(portFile)
	if err := c.initAndStart(ctx); err != nil {
		users.Close()
		return nil, err
	}
	if err := os.WriteFile(portFile, []byte(strconv.Itoa(c.port)), 0o644); err != nil {
		users.Close()
		return nil, fmt.Errorf("devdb: %w", err)
	}
	c.shared = &sharedLock{users: users}
	return c, nil
}

// leaveShared drops this process's use; the last user stops the cluster and removes its data.
func (c *Cluster) leaveShared() error {
	setup, err := flock(filepath.Join(c.dir, "setup.lock"), syscall.LOCK_EX)
	if err != nil {
		c.shared.users.Close()
		return fmt.Errorf("devdb: lock shared cluster: %w", err)
	}
	defer setup.Close()
	c.shared.users.Close()
	last, err := flock(filepath.Join(c.dir, "users.lock"), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return nil // others still use it
	}
	if err != nil {
		return fmt.Errorf("devdb: %w", err)
	}
	defer last.Close()
	if c.keep {
		return nil
	}
	os.Remove(filepath.Join(c.dir, "port"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.run(ctx, "pg_ctl", "-D", c.dataDir(), "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		return fmt.Errorf("devdb: stop shared cluster: %w", err)
	}
	// Keep the directory (it holds the lock files others may be waiting on); drop the data.
	return os.RemoveAll(c.dataDir())
}
