package alert

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"tiersync/internal/shopifyapp"
	"tiersync/internal/testfactory"
)

// connections is what shopifyapp.Store.Statuses would answer, set by the test.
type connections struct {
	mu     sync.Mutex
	states []shopifyapp.Status
}

func (c *connections) Statuses(context.Context) ([]shopifyapp.Status, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]shopifyapp.Status(nil), c.states...), nil
}

func (c *connections) set(states ...shopifyapp.Status) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.states = states
}

// TestConnectionAlerts: a connection that turns refresh_failing or uninstalled is reported
// once per state change, whatever the interval; a failed delivery is tried again; a
// connection that recovers and fails again is reported again; connected and pending ones
// never are.
func TestConnectionAlerts(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	vino := testfactory.Client(t, w.pool, testfactory.ClientOpts{Name: "Vino"})
	rosa := testfactory.Client(t, w.pool, testfactory.ClientOpts{Name: "Rosa"})
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	now := time.Now().UTC().Truncate(time.Microsecond)
	conns := &connections{}
	a := New(w.pool, Config{URL: srv.URL, Interval: 15 * time.Minute, Now: func() time.Time { return now }, Connections: conns})
	ctx := context.Background()

	failing := shopifyapp.Status{ClientID: vino, Shop: "vino.myshopify.com", Auth: "client_credentials", State: "refresh_failing",
		Error: "the client credentials grant failed: HTTP 400: invalid_client", Since: now}
	gone := shopifyapp.Status{ClientID: rosa, Shop: "rosa.myshopify.com", Auth: "oauth", State: "uninstalled", Since: now}
	fine := shopifyapp.Status{ClientID: rosa, Shop: "rosa.myshopify.com", Auth: "oauth", State: "connected", Since: now}
	pending := shopifyapp.Status{ClientID: rosa, Shop: "rosa.myshopify.com", Auth: "oauth", State: "pending", Since: now}
	steps := []struct {
		name    string
		states  []shopifyapp.Status
		advance time.Duration
		down    bool   // the receiver fails
		sent    string // the kinds Check answers
		text    []string
	}{
		{name: "all connected or pending", states: []shopifyapp.Status{fine}},
		{name: "pending is no alert", states: []shopifyapp.Status{pending}},
		{name: "one fails", states: []shopifyapp.Status{failing, fine}, sent: KindConnections,
			text: []string{"1 Shopify connection(s)", "vino.myshopify.com", "invalid_client", "PATCH /api/clients/" + vino}},
		{name: "the same failure a minute later", states: []shopifyapp.Status{failing, fine}, advance: time.Minute},
		{name: "the same failure intervals later", states: []shopifyapp.Status{failing, fine}, advance: time.Hour},
		{name: "another is uninstalled, the receiver down", states: []shopifyapp.Status{failing, gone}, down: true},
		{name: "delivered when the receiver is back", states: []shopifyapp.Status{failing, gone}, sent: KindConnections,
			text: []string{"1 Shopify connection(s)", "rosa.myshopify.com", "was uninstalled", "install the app again"}},
		{name: "recovered", states: []shopifyapp.Status{{ClientID: vino, Shop: "vino.myshopify.com", State: "connected", Since: now.Add(2 * time.Hour)}, gone}},
		{name: "fails again: a new state change", states: []shopifyapp.Status{func() shopifyapp.Status {
			s := failing
			s.Since = now.Add(3 * time.Hour)
			return s
		}(), gone}, sent: KindConnections, text: []string{"vino.myshopify.com"}},
	}
	delivered := 0
	for _, s := range steps {
		now = now.Add(s.advance)
		conns.set(s.states...)
		rcv.mu.Lock()
		rcv.fail = s.down
		rcv.mu.Unlock()
		sent, err := a.Check(ctx)
		if s.down != (err != nil) || strings.Join(sent, ",") != s.sent {
			t.Fatalf("%s: sent %v (%v), want %q", s.name, sent, err, s.sent)
		}
		texts := rcv.got()
		if s.sent != "" {
			delivered++
		}
		if len(texts) != delivered {
			t.Fatalf("%s: %d alerts delivered, want %d: %q", s.name, len(texts), delivered, texts)
		}
		for _, want := range s.text {
			if !strings.Contains(texts[len(texts)-1], want) {
				t.Fatalf("%s: alert %q does not say %q", s.name, texts[len(texts)-1], want)
			}
		}
	}
	if strings.Contains(rcv.got()[1], "vino") {
		t.Fatalf("the uninstall's alert repeats the failure already reported: %q", rcv.got()[1])
	}
}
