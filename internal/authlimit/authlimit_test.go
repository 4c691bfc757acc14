package authlimit_test

import (
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"tiersync/internal/authlimit"
)

// clock is a hand-moved clock: the tests step time instead of sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClock() *clock { return &clock{t: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)} }

// TestLimiter walks one key through a window: N failures are allowed, the next attempt
// is refused with the time left, other keys are untouched, and the next window starts
// afresh.
func TestLimiter(t *testing.T) {
	type step struct {
		advance   time.Duration
		key       string
		fail      int // failures to record before asking
		wantOK    bool
		wantAfter time.Duration // when refused
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"under the limit", []step{{key: "a", fail: 2, wantOK: true}}},
		{"at the limit", []step{{key: "a", fail: 3, wantAfter: time.Minute}}},
		{"retry-after shrinks", []step{{key: "a", fail: 3, wantAfter: time.Minute}, {advance: 45 * time.Second, key: "a", wantAfter: 15 * time.Second}}},
		{"at least a second", []step{{key: "a", fail: 3, wantAfter: time.Minute}, {advance: time.Minute - time.Millisecond, key: "a", wantAfter: time.Second}}},
		{"window over", []step{{key: "a", fail: 3, wantAfter: time.Minute}, {advance: time.Minute, key: "a", wantOK: true}}},
		{"new window counts afresh", []step{{key: "a", fail: 3, wantAfter: time.Minute}, {advance: time.Minute, key: "a", fail: 2, wantOK: true}, {key: "a", fail: 1, wantAfter: time.Minute}}},
		{"keys apart", []step{{key: "a", fail: 3, wantAfter: time.Minute}, {key: "b", fail: 2, wantOK: true}, {key: "a", wantAfter: time.Minute}}},
		{"failures spread over the window", []step{{key: "a", fail: 1, wantOK: true}, {advance: 50 * time.Second, key: "a", fail: 2, wantAfter: 10 * time.Second}}},
		{"unknown key", []step{{key: "nobody", wantOK: true}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := newClock()
			l := authlimit.New(authlimit.Config{Failures: 3, Window: time.Minute, Now: clk.now})
			for i, s := range c.steps {
				clk.advance(s.advance)
				for range s.fail {
					l.Fail(s.key)
				}
				ok, after := l.Allow(s.key)
				if ok != s.wantOK || after != s.wantAfter {
					t.Fatalf("step %d: Allow(%q) = %v, %v; want %v, %v", i, s.key, ok, after, s.wantOK, s.wantAfter)
				}
			}
		})
	}
}

// TestLimiterBoundsMemory floods the limiter with addresses: it never tracks more than
// MaxKeys, evicts the oldest window first, and lets windows that ended go.
func TestLimiterBoundsMemory(t *testing.T) {
	clk := newClock()
	l := authlimit.New(authlimit.Config{Failures: 1, Window: time.Minute, MaxKeys: 100, Now: clk.now})
	l.Fail("first")
	clk.advance(time.Second)
	for i := range 10_000 {
		l.Fail(fmt.Sprintf("flood-%d", i))
		if n := l.Len(); n > 100 {
			t.Fatalf("%d keys tracked after %d failures, cap 100", n, i+2)
		}
	}
	if ok, _ := l.Allow("first"); !ok {
		t.Fatal("the oldest key was not the one evicted")
	}
	if ok, _ := l.Allow("flood-9999"); ok {
		t.Fatal("the newest key was evicted")
	}
	// Allow never adds a key: a flood of good or unknown attempts costs nothing.
	for i := range 1000 {
		l.Allow(fmt.Sprintf("probe-%d", i))
	}
	if n := l.Len(); n != 100 {
		t.Fatalf("%d keys after Allow probes, want 100", n)
	}
	clk.advance(time.Minute)
	l.Allow("anyone")
	if n := l.Len(); n != 0 {
		t.Fatalf("%d keys tracked after every window ended", n)
	}
}

// TestLimiterConcurrent runs failures from many goroutines (go test -race checks the
// locking): every failure is counted.
func TestLimiterConcurrent(t *testing.T) {
	clk := newClock()
	l := authlimit.New(authlimit.Config{Failures: 400, Window: time.Minute, Now: clk.now})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				l.Allow("k")
				l.Fail("k")
			}
		})
	}
	wg.Wait()
	if ok, _ := l.Allow("k"); ok {
		t.Fatal("400 failures from 8 goroutines did not reach the limit of 400")
	}
}

func TestDefaults(t *testing.T) {
	clk := newClock()
	l := authlimit.New(authlimit.Config{Now: clk.now})
	for range authlimit.DefaultFailures - 1 {
		l.Fail("k")
	}
	if ok, _ := l.Allow("k"); !ok {
		t.Fatalf("refused after %d failures", authlimit.DefaultFailures-1)
	}
	l.Fail("k")
	if ok, after := l.Allow("k"); ok || after != authlimit.DefaultWindow {
		t.Fatalf("after %d failures: %v, %v", authlimit.DefaultFailures, ok, after)
	}
}

func TestClientKey(t *testing.T) {
	cases := []struct{ remote, want string }{
		{"192.0.2.7:51234", "192.0.2.7"},
		{"192.0.2.7:1", "192.0.2.7"}, // the port never matters
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::/64"}, // same /64, same key
		{"[::ffff:192.0.2.7]:80", "192.0.2.7"},              // IPv4-mapped is the IPv4 address
		{"[fe80::1%eth0]:80", "fe80::/64"},
		{"192.0.2.7", "192.0.2.7"}, // no port
		{"@", "@"},                 // a unix socket or a test: taken whole
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		if got := authlimit.ClientKey(r); got != c.want {
			t.Errorf("ClientKey(%q) = %q, want %q", c.remote, got, c.want)
		}
	}
}
