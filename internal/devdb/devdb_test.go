package devdb

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestFindBinaries(t *testing.T) {
	dir, err := FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			t.Errorf("%s has no %s", dir, b)
		}
	}
}

func query(t *testing.T, url string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
	return one
}

func refusesConnections(port int) bool {
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err == nil {
		conn.Close()
		return false
	}
	return true
}

func TestStartStop(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep=%v", keep), func(t *testing.T) {
			c, err := Start(context.Background(), Options{Keep: keep})
			if err != nil {
				t.Fatal(err)
			}
			if got := query(t, c.URL("postgres")); got != 1 {
				t.Fatalf("SELECT 1 = %d", got)
			}
			if len(filepath.Join(c.sockDir(), ".s.PGSQL.65535")) > 107 {
				t.Fatalf("socket path too long: %s", c.sockDir())
			}
			if err := c.Stop(); err != nil {
				t.Fatal(err)
			}
			if err := c.Stop(); err != nil {
				t.Fatalf("second Stop: %v", err)
			}
			if keep {
				if got := query(t, c.URL("postgres")); got != 1 {
					t.Fatal("kept cluster does not answer")
				}
				// Clean up what Keep left.
				c.keep, c.stopped = false, false
				if err := c.Stop(); err != nil {
					t.Fatal(err)
				}
			}
			if !refusesConnections(c.Port()) {
				t.Fatalf("port %d still accepts connections after Stop", c.Port())
			}
			if _, err := os.Stat(c.Dir()); !os.IsNotExist(err) {
				t.Fatalf("%s still exists after Stop (%v)", c.Dir(), err)
			}
		})
	}
}

// TestSharedClusterIsRefCounted: two users of the shared cluster share one server; it
// survives the first leaving and stops when the last leaves. It uses its own directory so
// that it does not stop the cluster other test processes are using.
func TestSharedClusterIsRefCounted(t *testing.T) {
	dir := t.TempDir()
	// t.TempDir makes 0700 directories; the server's user must traverse them.
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	start := func() *Cluster {
		c, err := startSharedIn(context.Background(), filepath.Join(dir, "shared"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a := start()
	b := start()
	if a.Port() != b.Port() {
		t.Fatalf("two shared users got two servers: %d and %d", a.Port(), b.Port())
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := query(t, b.URL("postgres")); got != 1 {
		t.Fatal("the cluster stopped while a user remained")
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	if !refusesConnections(b.Port()) {
		t.Fatal("the last user left but the server still runs")
	}
	// A later user starts it again.
	c := start()
	defer c.Stop()
	if got := query(t, c.URL("postgres")); got != 1 {
		t.Fatal("restarted shared cluster does not answer")
	}
}

func TestUntraversablePathIsExplained(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root hands the cluster to another user")
	}
	dir := t.TempDir() // its parent is 0700
	_, err := Start(context.Background(), Options{Dir: filepath.Join(dir, "c")})
	if err == nil || !strings.Contains(err.Error(), "cannot enter") {
		t.Fatalf("err = %v, want one naming the directory the postgres user cannot enter", err)
	}
}
