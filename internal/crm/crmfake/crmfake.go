// Package crmfake is the machinery the CRM fakes (commerce7/c7test, shopify/shopifytest)
// share, so that each holds only what its CRM documents (auth, error bodies, rate limits,
// state): injected faults (a status for the next K calls, with a message or a raw body
// of the fake's choosing; a hang; an answer lost after the call was applied; each
// scoped to a method and path, an operation, or one tenant or shop), latency, the
// request log, and the control API's requests and faults endpoints.
package crmfake

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kind is what an injected fault does.
type Kind int

const (
	// Status answers Fault.Status without applying the request.
	Status Kind = iota
	// Hang never answers: the call ends when the client gives up or the fake closes.
	Hang
	// LoseAnswer applies the request, then drops the connection without an answer.
	LoseAnswer
	// Custom is the fake's own fault (Commerce7's errors in a 200, Shopify's THROTTLED):
	// the fake answers it; Core only matches and counts it.
	Custom
)

// Fault is injected into the next Count requests that match it. Every matcher left
// empty matches anything.
type Fault struct {
	Method    string // matched in any case: "post" in a control API body means POST
	Path      string // a prefix of the request's path
	Operation string // the operation's name, exactly (Shopify's GraphQL root field)
	Scope     string // the tenant or shop
	Count     int
	Kind      Kind
	// Status is a Status fault's answer; outside 100–599, 500.
	Status     int
	RetryAfter int // a Status fault's Retry-After seconds; 0: none
	// Message replaces the fake's default error message in its error body.
	Message string
	// RawBody, when set, is a Status fault's body byte for byte, with a text/plain
	// type, instead of the fake's JSON error: as a proxy in front of the CRM may answer.
	// The bytes need not be JSON nor valid UTF-8.
	RawBody string
}

// Call is what a request is matched on.
type Call struct{ Method, Path, Operation, Scope string }

func (f *Fault) matches(c Call) bool {
	return (f.Method == "" || strings.EqualFold(f.Method, c.Method)) && strings.HasPrefix(c.Path, f.Path) &&
		(f.Operation == "" || f.Operation == c.Operation) && (f.Scope == "" || f.Scope == c.Scope)
}

// Core holds a fake's faults, latency and request log (of the fake's own record type R).
// Its methods are safe for concurrent use; a fake may call them while holding its own
// lock (Core never calls back), so that its log's order is the order in which requests
// took effect.
type Core[R any] struct {
	mu       sync.Mutex
	faults   []*Fault
	latency  time.Duration
	requests []R
	closed   chan struct{}
	once     sync.Once
}

// New makes a Core.
func New[R any]() *Core[R] { return &Core[R]{closed: make(chan struct{})} }

// Close releases every hanging or delayed call.
func (c *Core[R]) Close() { c.once.Do(func() { close(c.closed) }) }

// Inject adds a fault; faults apply in the order injected. A Count below 1 means 1, so a
// forgotten Count still fails one call rather than none.
func (c *Core[R]) Inject(f Fault) {
	if f.Count < 1 {
		f.Count = 1
	}
	// net/http panics on a status outside 100–999; a fault is meant to fail the call, not
	// the fake, so an unusable status becomes a plain server error.
	if f.Kind == Status && (f.Status < 100 || f.Status > 599) {
		f.Status = http.StatusInternalServerError
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = append(c.faults, &f)
}

// ClearFaults removes every fault not yet used up: the CRM recovers.
func (c *Core[R]) ClearFaults() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = nil
}

// Take returns the first fault matching the call and uses it up; nil when none does.
func (c *Core[R]) Take(call Call) *Fault {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, f := range c.faults {
		if f.matches(call) {
			taken := *f
			if f.Count--; f.Count == 0 {
				c.faults = append(c.faults[:i], c.faults[i+1:]...)
			}
			return &taken
		}
	}
	return nil
}

// SetLatency delays every answer by d.
func (c *Core[R]) SetLatency(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.latency = d
}

// Latency is the delay of every answer.
func (c *Core[R]) Latency() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.latency
}

// Log appends a request to the log and returns its place, for Update.
func (c *Core[R]) Log(r R) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests = append(c.requests, r)
	return len(c.requests) - 1
}

// Update changes a logged request (its status, once the client gave up).
func (c *Core[R]) Update(i int, change func(*R)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	change(&c.requests[i])
}

// Requests returns every request so far, in the order they were logged.
func (c *Core[R]) Requests() []R {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]R{}, c.requests...)
}

// Deliver answers a request the fake has decided (and applied, logged) after latency:
// a Hang fault never answers, a LoseAnswer fault drops the connection, a Status fault
// with a RawBody sends it as is; otherwise a Status fault's Retry-After is set and write
// writes the fake's answer. It reports false when the client gave up during the latency:
// nothing was written, and the fake's log should say the call got no status.
func (c *Core[R]) Deliver(w http.ResponseWriter, r *http.Request, latency time.Duration, fault *Fault, write func(http.ResponseWriter)) bool {
	if latency > 0 {
		t := time.NewTimer(latency)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return false
		case <-c.closed:
		}
	}
	if fault != nil {
		switch fault.Kind {
		case Hang:
			select {
			case <-r.Context().Done():
			case <-c.closed:
			}
			return true
		case LoseAnswer:
			// The change is applied; the client never hears of it.
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return true
				}
			}
			panic(http.ErrAbortHandler) // no hijacking (HTTP/2): abort the stream instead
		case Status:
			if fault.RetryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(fault.RetryAfter))
			}
			if fault.RawBody != "" {
				w.Header().Set("Content-Type", "text/plain")
				w.WriteHeader(fault.Status)
				_, _ = w.Write([]byte(fault.RawBody))
				return true
			}
		}
	}
	write(w)
	return true
}
