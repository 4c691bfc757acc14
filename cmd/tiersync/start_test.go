package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"tiersync/internal/db/dbtest"
)

// The keys of TestServeStarts: base64 of 32 bytes each, different.
const (
	startKeyA = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU="
	startKeyB = "YW5vdGhlci1rZXktZm9yLXRlc3RzLW9ubHktOTg3NjU="
)

// proc is a running `tiersync serve` process and its stderr, line by line.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	out  []string
	err  error // Wait's
}

func startProc(t *testing.T, bin string, envVars map[string]string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range envVars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.out = append(p.out, sc.Text())
			p.mu.Unlock()
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *proc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.out, "\n")
}

// exit waits for the process to end by itself and returns its exit code.
func (p *proc) exit(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("still running after 30 s:\n%s", p.stderr())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

// waitFor waits until a stderr line contains s.
func (p *proc) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.stderr(), s) {
		select {
		case <-p.done:
			t.Fatalf("exited before logging %q:\n%s", s, p.stderr())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in 30 s:\n%s", s, p.stderr())
		}
		time.Sleep(20 * time.Millisecond) // polling a child's output; there is no signal to wait on
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.exit(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, p.stderr())
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func status(t *testing.T, u string) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServeStarts runs the real binary, because how a start ends is the process's
// behaviour: its exit status and the one message an operator reads (issue 20.4).
func TestServeStarts(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "tiersync")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	serveEnv := func(url, key string) map[string]string {
		return map[string]string{"DATABASE_URL": url, "TIERSYNC_API_TOKEN": "serve-test-token-123456", "TIERSYNC_SECRET_KEY": key,
			"LISTEN_ADDR": freeAddr(t), "WORKERS": "0", "SCHEDULE_EXPIRE": "off", "SCHEDULE_SYNC": "off"}
	}
	migrateTo := func(t *testing.T, url, to string) {
		t.Helper()
		if code, out, errOut := runCmd(t, map[string]string{"DATABASE_URL": url}, "migrate", "down", "--to", to); code != 0 {
			t.Fatalf("migrate down --to %s: %s%s", to, out, errOut)
		}
	}

	t.Run("no schema: refused with the migrate advice", func(t *testing.T) {
		t.Parallel()
		url := dbtest.NewURL(t)
		migrateTo(t, url, "0")
		p := startProc(t, bin, serveEnv(url, startKeyA), "serve")
		if code := p.exit(t); code != 1 || !strings.Contains(p.stderr(), "run `tiersync migrate up`") {
			t.Fatalf("exit %d, want 1 with the migrate advice:\n%s", code, p.stderr())
		}
	})

	t.Run("schema behind: serves, not ready, key checked after migrating", func(t *testing.T) {
		t.Parallel()
		url := dbtest.NewURL(t)
		migrateTo(t, url, "14")
		env := serveEnv(url, startKeyA)
		p := startProc(t, bin, env, "serve")
		p.waitFor(t, `"msg":"serving"`)
		if got := status(t, "http://"+env["LISTEN_ADDR"]+"/readyz"); got != http.StatusServiceUnavailable {
			t.Fatalf("/readyz %d while the schema is behind, want 503", got)
		}
		if s := p.stderr(); !strings.Contains(s, "run `tiersync migrate up`") || !strings.Contains(s, "TIERSYNC_SECRET_KEY not checked") {
			t.Fatalf("log lacks the migrate advice or the unchecked key:\n%s", s)
		}
		p.stop(t)
	})

	t.Run("busy LISTEN_ADDR: said before the database is touched", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		env := serveEnv("postgres://nobody@127.0.0.1:1/nothing", startKeyA) // a database that would not answer
		env["LISTEN_ADDR"] = ln.Addr().String()
		p := startProc(t, bin, env, "serve")
		code := p.exit(t)
		if s := p.stderr(); code != 1 || !strings.Contains(s, "listen on LISTEN_ADDR "+ln.Addr().String()) ||
			!strings.Contains(s, "address already in use") || strings.Contains(s, "database") {
			t.Fatalf("exit %d, want 1 naming the busy address and nothing of the database:\n%s", code, s)
		}
	})

	t.Run("another key after the first: refused; the first still starts", func(t *testing.T) {
		t.Parallel()
		url := dbtest.NewURL(t)
		first := serveEnv(url, startKeyA)
		first["LOG_FORMAT"] = "text"
		p := startProc(t, bin, first, "serve")
		p.waitFor(t, "msg=serving")
		// The start's webhook line, in the format asked for.
		if s := p.stderr(); !strings.Contains(s, "msg=webhooks") || !strings.Contains(s, `commerce7_global_pair="unset`) ||
			!strings.Contains(s, `shopify_app="not configured`) || !strings.Contains(s, `public_url="unset`) {
			t.Fatalf("no text webhooks line saying what is enabled:\n%s", s)
		}
		p.stop(t)

		wrong := startProc(t, bin, serveEnv(url, startKeyB), "serve")
		if code := wrong.exit(t); code != 1 || !strings.Contains(wrong.stderr(), "TIERSYNC_SECRET_KEY is not the key this database's stored credentials were sealed with") {
			t.Fatalf("another key: exit %d, want 1 saying the key is not the one:\n%s", code, wrong.stderr())
		}

		again := serveEnv(url, startKeyA)
		p = startProc(t, bin, again, "serve")
		p.waitFor(t, `"msg":"serving"`)
		if got := status(t, "http://"+again["LISTEN_ADDR"]+"/readyz"); got != http.StatusOK {
			t.Fatalf("/readyz %d with the first key again, want 200", got)
		}
		p.stop(t)
	})
}
