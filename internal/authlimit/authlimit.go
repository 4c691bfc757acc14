// Package authlimit limits failed authentication attempts per client: at most Failures
// failures per Window for one key (a client address), after which attempts are refused
// until the window ends, before the credential is even compared. Successful attempts do
// not count, so a busy legitimate client is never slowed down by its own traffic.
//
// A Limiter is process-local: each replica counts the failures it sees, so with R
// replicas behind a balancer a client may fail up to R×Failures times per window. That
// is still a bound (a guess per few seconds instead of thousands per second), and it
// needs no shared state on the hot path of every authenticated request.
//
// Memory is bounded: at most MaxKeys keys are tracked, and a new key beyond that evicts
// the key whose window started first. A flood of addresses therefore cannot grow memory;
// at worst it pushes older keys out early, which forgets their failures (an attacker who
// controls that many addresses had that many windows anyway).
package authlimit

import (
	"container/list"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Config sets a Limiter's bounds; zero fields take the defaults.
type Config struct {
	// Failures is how many failures a key may have per window [10].
	Failures int
	// Window is the fixed window the failures are counted in [1m].
	Window time.Duration
	// MaxKeys caps how many keys are tracked at once [10 000].
	MaxKeys int
	// Now is the clock [time.Now]; tests inject their own.
	Now func() time.Time
}

// Defaults.
const (
	DefaultFailures = 10
	DefaultWindow   = time.Minute
	DefaultMaxKeys  = 10_000
)

// Limiter counts failures per key in fixed windows. It is safe for concurrent use.
//
// Allow and Fail are separate calls, so attempts that pass Allow at the same instant are
// all compared before any of them counts. Keep the gap to the comparison alone: read the
// whole request first, then Allow, compare, Fail. The overshoot is then bounded by the
// attempts in that few-microsecond section at once, not by the attacker's rate.
type Limiter struct {
	cfg Config

	mu   sync.Mutex
	keys map[string]*list.Element // of *entry
	// order holds the entries by window start, oldest first: expired windows and the
	// eviction victim are both at the front.
	order *list.List
}

type entry struct {
	key      string
	start    time.Time // the window's start
	failures int
}

// New returns a Limiter; zero Config fields take the defaults.
func New(cfg Config) *Limiter {
	if cfg.Failures <= 0 {
		cfg.Failures = DefaultFailures
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{cfg: cfg, keys: map[string]*list.Element{}, order: list.New()}
}

// Allow says whether key may make an attempt now. When it may not, retryAfter is how
// long until its window ends (at least a second, as Retry-After counts in seconds).
// Allow never adds a key: only failures are tracked.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	l.pruneLocked(now)
	el, found := l.keys[key]
	if !found {
		return true, 0
	}
	e := el.Value.(*entry)
	if e.failures < l.cfg.Failures {
		return true, 0
	}
	return false, max(e.start.Add(l.cfg.Window).Sub(now), time.Second)
}

// Fail records a failed attempt by key.
func (l *Limiter) Fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	l.pruneLocked(now)
	if el, found := l.keys[key]; found {
		el.Value.(*entry).failures++
		return
	}
	for l.order.Len() >= l.cfg.MaxKeys {
		l.removeLocked(l.order.Front())
	}
	l.keys[key] = l.order.PushBack(&entry{key: key, start: now, failures: 1})
}

// Len is how many keys are tracked (for tests and metrics).
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.order.Len()
}

// pruneLocked drops the entries whose window has ended. They are at the front, so this
// costs one look when there is nothing to drop.
func (l *Limiter) pruneLocked(now time.Time) {
	for el := l.order.Front(); el != nil; el = l.order.Front() {
		if now.Before(el.Value.(*entry).start.Add(l.cfg.Window)) {
			return
		}
		l.removeLocked(el)
	}
}

func (l *Limiter) removeLocked(el *list.Element) {
	delete(l.keys, el.Value.(*entry).key)
	l.order.Remove(el)
}

// ClientKey is the key of the request's client: the IP address of r.RemoteAddr without
// the port, and for IPv6 its /64 network, because one host commonly holds a whole /64
// and could otherwise give every attempt a fresh address. X-Forwarded-For is not read:
// anyone can send it. Behind a reverse proxy every client therefore shares the proxy's
// key, which errs on the side of refusing too much, never too little.
func ClientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr // no port: take it whole
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap()
	if addr.Is6() {
		p, _ := addr.WithZone("").Prefix(64) // cannot fail: 64 bits fit an IPv6 address
		return p.String()
	}
	return addr.String()
}
