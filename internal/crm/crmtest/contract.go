// Package crmtest holds the contract every crm.Provider must meet, as a table of cases run
// against a live fake of its CRM over real HTTP. Each provider's tests supply a Backend;
// the same table runs for Commerce7 and for Shopify.
package crmtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"tiersync/internal/crm"
)

// Backend is one CRM fake seen through what the contract needs.
type Backend interface {
	// New starts a fresh CRM (an empty tenant or shop) and returns its Provider.
	New(t *testing.T) crm.Provider
	// Tiers returns two tiers that exist in the CRM, lower first.
	Tiers(t *testing.T) (lower, higher crm.Tier)
	// Members lists the CRM's memberships ids of the customer in the tier that count as
	// live (Commerce7: Active or On Hold; Shopify: the tag).
	Members(t *testing.T, customerCRMID string, tier crm.Tier) []string
	// Customers counts the CRM customers with exactly this email.
	Customers(t *testing.T, email string) int
	// AddCustomer puts a customer into the CRM behind our back (the merchant did it).
	AddCustomer(t *testing.T, email string) string
	// LoseNextAnswer makes the next request of this kind apply, then lose its answer.
	LoseNextAnswer(t *testing.T, op Op)
	// FailNext makes the next request of this kind answer status without applying.
	FailNext(t *testing.T, op Op, status int)
}

// Readier is a Backend that must prepare a customer before a membership can be made (a
// CRM that requires a card on file): the contract calls Ready for every customer it makes
// known to the CRM. Backends without such a need leave it out.
type Readier interface {
	Ready(t *testing.T, customerCRMID string)
}

// Op names a kind of CRM request the contract injects faults into.
type Op int

const (
	OpCreateCustomer Op = iota
	OpCreateMembership
	OpCancelMembership
	OpAny
)

func (o Op) String() string {
	return [...]string{"create customer", "create membership", "cancel membership", "any request"}[o]
}

// Run runs the contract against b.
func Run(t *testing.T, b Backend) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := &world{t: t, b: b, p: b.New(t), ctx: context.Background()}
			w.lower, w.higher = b.Tiers(t)
			c.run(w)
		})
	}
}

type world struct {
	t             *testing.T
	b             Backend
	p             crm.Provider
	ctx           context.Context
	lower, higher crm.Tier
	n             int
}

// customer makes a fresh customer known to the CRM.
func (w *world) customer() crm.Customer {
	w.t.Helper()
	c := w.newCustomer()
	id, _, err := w.p.EnsureCustomer(w.ctx, c)
	if err != nil {
		w.t.Fatalf("EnsureCustomer: %v", err)
	}
	c.CRMID = id
	if r, ok := w.b.(Readier); ok {
		r.Ready(w.t, id)
	}
	return c
}

func (w *world) newCustomer() crm.Customer {
	w.n++
	return crm.Customer{Email: fmt.Sprintf("member%d@example.com", w.n), FirstName: "Ada", LastName: fmt.Sprintf("Member%d", w.n),
		Address: &crm.Address{Address: "1 Vine St", City: "Napa", StateCode: "CA", ZipCode: "94558", CountryCode: "US"}}
}

func (w *world) change(c crm.Customer, tier crm.Tier) crm.MembershipChange {
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	return crm.MembershipChange{Customer: c, Tier: tier, EnrolledAt: now, ExpiresAt: now.AddDate(1, 0, 0)}
}

func (w *world) add(c crm.Customer, tier crm.Tier) string {
	w.t.Helper()
	id, err := w.p.AddMembership(w.ctx, w.change(c, tier))
	if err != nil {
		w.t.Fatalf("AddMembership: %v", err)
	}
	return id
}

func (w *world) upgrade(c crm.Customer) (string, error) {
	m := w.change(c, w.higher)
	old := w.lower
	m.OldTier = &old
	return w.p.UpgradeMembership(w.ctx, m)
}

// members checks the customer's live memberships: want in the tier, and returns them.
func (w *world) members(c crm.Customer, tier crm.Tier, want int) []string {
	w.t.Helper()
	got := w.b.Members(w.t, c.CRMID, tier)
	if len(got) != want {
		w.t.Fatalf("%s has %d live membership(s) in %s, want %d: %v", c.Email, len(got), tier.Name, want, got)
	}
	return got
}

func wantClass(t *testing.T, err error, want crm.Class) *crm.Error {
	t.Helper()
	var e *crm.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want a *crm.Error of class %v", err, err, want)
	}
	if e.Class != want {
		t.Fatalf("error %v: class %v, want %v", err, e.Class, want)
	}
	return e
}

var cases = []struct {
	name string
	run  func(w *world)
}{
	{"ensure customer creates once, then finds it", func(w *world) {
		c := w.newCustomer()
		id1, _, err := w.p.EnsureCustomer(w.ctx, c)
		if err != nil || id1 == "" {
			w.t.Fatalf("first: %q %v", id1, err)
		}
		c.Email = strings.ToUpper(c.Email) // emails match whatever their case
		id2, _, err := w.p.EnsureCustomer(w.ctx, c)
		if err != nil || id2 != id1 {
			w.t.Fatalf("second: %q %v, want %q", id2, err, id1)
		}
		if n := w.b.Customers(w.t, strings.ToLower(c.Email)); n != 1 {
			w.t.Fatalf("%d customers with the email, want 1", n)
		}
	}},
	{"ensure customer matches the email exactly, not a lookalike", func(w *world) {
		other := w.b.AddCustomer(w.t, "joann@example.com")
		id, _, err := w.p.EnsureCustomer(w.ctx, crm.Customer{Email: "ann@example.com", FirstName: "Ann", LastName: "Lee"})
		if err != nil || id == "" || id == other {
			w.t.Fatalf("got %q (%v); the lookalike is %q", id, err, other)
		}
	}},
	{"ensure customer finds one the merchant made", func(w *world) {
		existing := w.b.AddCustomer(w.t, "known@example.com")
		id, _, err := w.p.EnsureCustomer(w.ctx, crm.Customer{Email: "known@example.com", FirstName: "K", LastName: "N"})
		if err != nil || id != existing {
			w.t.Fatalf("got %q (%v), want %q", id, err, existing)
		}
	}},
	{"a customer creation whose answer was lost is not made twice", func(w *world) {
		c := w.newCustomer()
		w.b.LoseNextAnswer(w.t, OpCreateCustomer)
		_, _, err := w.p.EnsureCustomer(w.ctx, c)
		wantClass(w.t, err, crm.Retryable)
		id, _, err := w.p.EnsureCustomer(w.ctx, c)
		if err != nil || id == "" {
			w.t.Fatalf("retry: %q %v", id, err)
		}
		if n := w.b.Customers(w.t, c.Email); n != 1 {
			w.t.Fatalf("%d customers after a lost answer and a retry, want 1", n)
		}
	}},
	{"add twice leaves one membership", func(w *world) {
		c := w.customer()
		id1 := w.add(c, w.lower)
		id2 := w.add(c, w.lower)
		if id1 != id2 {
			w.t.Fatalf("second add answered %q, first %q", id2, id1)
		}
		w.members(c, w.lower, 1)
		w.members(c, w.higher, 0)
	}},
	{"an add whose answer was lost, then a retry: one membership", func(w *world) {
		c := w.customer()
		w.b.LoseNextAnswer(w.t, OpCreateMembership)
		_, err := w.p.AddMembership(w.ctx, w.change(c, w.lower))
		wantClass(w.t, err, crm.Retryable)
		id := w.add(c, w.lower)
		got := w.members(c, w.lower, 1)
		if id != got[0] && id != "" {
			w.t.Fatalf("retry answered %q, the CRM has %q", id, got[0])
		}
	}},
	{"cancel, and cancel again", func(w *world) {
		c := w.customer()
		w.add(c, w.lower)
		w.add(c, w.higher) // another tier must not be touched
		for i := 0; i < 2; i++ {
			if err := w.p.CancelMembership(w.ctx, w.change(c, w.lower), crm.ReasonExpired); err != nil {
				w.t.Fatalf("cancel %d: %v", i+1, err)
			}
		}
		w.members(c, w.lower, 0)
		w.members(c, w.higher, 1)
	}},
	{"a cancel whose answer was lost, then a retry", func(w *world) {
		c := w.customer()
		w.add(c, w.lower)
		w.b.LoseNextAnswer(w.t, OpCancelMembership)
		err := w.p.CancelMembership(w.ctx, w.change(c, w.lower), crm.ReasonExpired)
		wantClass(w.t, err, crm.Retryable)
		if err := w.p.CancelMembership(w.ctx, w.change(c, w.lower), crm.ReasonExpired); err != nil {
			w.t.Fatalf("retry: %v", err)
		}
		w.members(c, w.lower, 0)
	}},
	{"cancel for a customer the CRM never knew is success", func(w *world) {
		c := w.newCustomer()
		if err := w.p.CancelMembership(w.ctx, w.change(c, w.lower), crm.ReasonExpired); err != nil {
			w.t.Fatal(err)
		}
	}},
	{"re-join after a cancel", func(w *world) {
		c := w.customer()
		w.add(c, w.lower)
		if err := w.p.CancelMembership(w.ctx, w.change(c, w.lower), crm.ReasonExpired); err != nil {
			w.t.Fatal(err)
		}
		w.add(c, w.lower)
		w.members(c, w.lower, 1)
	}},
	{"upgrade moves the customer, twice is once", func(w *world) {
		c := w.customer()
		w.add(c, w.lower)
		id1, err := w.upgrade(c)
		if err != nil {
			w.t.Fatal(err)
		}
		id2, err := w.upgrade(c)
		if err != nil || id2 != id1 {
			w.t.Fatalf("second upgrade: %q %v, first %q", id2, err, id1)
		}
		w.members(c, w.lower, 0)
		w.members(c, w.higher, 1)
	}},
	{"an upgrade interrupted after its first change completes on retry", func(w *world) {
		c := w.customer()
		w.add(c, w.lower)
		w.b.FailNext(w.t, OpCreateMembership, 503)
		_, err := w.upgrade(c)
		wantClass(w.t, err, crm.Retryable)
		if _, err := w.upgrade(c); err != nil {
			w.t.Fatalf("retry: %v", err)
		}
		w.members(c, w.lower, 0)
		w.members(c, w.higher, 1)
	}},
	{"two customers in one tier: each add, cancel and upgrade is the customer's own", func(w *world) {
		// A CRM listing that mixes customers (Commerce7's customerId filter not honoured)
		// must never make one customer's operation answer or change another's membership.
		a, b := w.customer(), w.customer()
		idA := w.add(a, w.lower)
		idB := w.add(b, w.lower)
		gotB := w.members(b, w.lower, 1)
		if idB != "" && (idB != gotB[0] || idB == idA) {
			w.t.Fatalf("add for B answered %q; B's membership is %q, A's %q", idB, gotB[0], idA)
		}
		if err := w.p.CancelMembership(w.ctx, w.change(a, w.lower), crm.ReasonExpired); err != nil {
			w.t.Fatal(err)
		}
		w.members(a, w.lower, 0)
		if got := w.members(b, w.lower, 1); got[0] != gotB[0] {
			w.t.Fatalf("B's membership changed from %q to %q", gotB[0], got[0])
		}
		if _, err := w.upgrade(b); err != nil {
			w.t.Fatal(err)
		}
		w.members(b, w.lower, 0)
		w.members(b, w.higher, 1)
		w.members(a, w.higher, 0)
	}},
	{"status classes", func(w *world) {
		c := w.customer()
		for _, st := range []struct {
			status int
			class  crm.Class
		}{{500, crm.Retryable}, {503, crm.Retryable}, {400, crm.Permanent}, {401, crm.Permanent},
			{403, crm.Permanent}, {404, crm.Permanent}, {422, crm.Permanent}} {
			w.b.FailNext(w.t, OpAny, st.status)
			_, err := w.p.AddMembership(w.ctx, w.change(c, w.lower))
			if e := wantClass(w.t, err, st.class); e.Status != st.status {
				w.t.Fatalf("HTTP %d reported as %d", st.status, e.Status)
			}
		}
		w.members(c, w.lower, 0)
	}},
}
