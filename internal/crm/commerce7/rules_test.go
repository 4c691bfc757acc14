package commerce7_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"tiersync/internal/crm"
	"tiersync/internal/crm/commerce7"
	"tiersync/internal/crm/commerce7/c7test"
)

// Tests of what Commerce7 was checked to do in review (DESIGN.md §5): whose memberships
// a listing holds, scheduled cancellations, cards on file. Each behaviour no public
// source confirms is run with every position of the fake's switch for it.

var start = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// clocked starts the fake and the client on one settable clock.
func clocked(t *testing.T, opts func(*c7test.Options)) (*c7test.Fake, *commerce7.Provider, *clock) {
	t.Helper()
	clk := &clock{t: start}
	fake, p := setup(t, func(o *c7test.Options) {
		o.Now = clk.now
		if opts != nil {
			opts(o)
		}
	}, func(c *commerce7.Config) { c.Now = clk.now })
	return fake, p, clk
}

func byID(t *testing.T, fake *c7test.Fake, id string) c7test.Membership {
	t.Helper()
	for _, m := range fake.Memberships(tenant, "") {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("no membership %s", id)
	return c7test.Membership{}
}

func TestNeverActsOnAnotherCustomersMembership(t *testing.T) {
	for _, ignored := range []bool{false, true} {
		t.Run(map[bool]string{false: "filter honoured", true: "filter ignored"}[ignored], func(t *testing.T) {
			fake, p := setup(t, func(o *c7test.Options) { o.IgnoreCustomerFilter = ignored }, nil)
			ctx := context.Background()
			a := member(t, fake, p, "ann@example.com")
			b := member(t, fake, p, "bo@example.com")
			addrA := fake.AddAddress(tenant, c7test.Address{CustomerID: a.CRMID, Address: "1 A St", City: "Napa", StateCode: "CA", ZipCode: "94558", CountryCode: "US"})
			fake.AddCreditCard(tenant, c7test.CreditCard{CustomerID: b.CRMID, ID: "card-b"})
			// A's live Gold membership and A's cancelled Platinum one with A's card: the only
			// memberships B's first listing holds when the filter is ignored.
			aGold := fake.AddMembership(tenant, c7test.Membership{CustomerID: a.CRMID, ClubID: gold.C7ClubID, OrderDeliveryMethod: "Ship",
				BillToCustomerAddressID: addrA.ID, ShipToCustomerAddressID: addrA.ID, CustomerCreditCardID: "card-a"})
			fake.AddMembership(tenant, c7test.Membership{CustomerID: a.CRMID, ClubID: platinum.C7ClubID, Status: "Cancelled",
				OrderDeliveryMethod: "Ship", BillToCustomerAddressID: addrA.ID, ShipToCustomerAddressID: addrA.ID, CustomerCreditCardID: "card-a"})

			idB, err := p.AddMembership(ctx, crm.MembershipChange{Customer: b, Tier: gold})
			if err != nil {
				t.Fatal(err)
			}
			if mb := byID(t, fake, idB); idB == aGold.ID || mb.CustomerID != b.CRMID || mb.CustomerCreditCardID != "card-b" {
				t.Fatalf("add for B answered %+v; A's is %s", mb, aGold.ID)
			}
			// B moves Gold → Platinum: nothing is copied from A's cancelled Platinum membership.
			newB, err := p.UpgradeMembership(ctx, crm.MembershipChange{Customer: b, Tier: platinum, OldTier: &gold})
			if err != nil {
				t.Fatal(err)
			}
			if mb := byID(t, fake, newB); mb.CustomerID != b.CRMID || mb.CustomerCreditCardID != "card-b" || mb.BillToCustomerAddressID == addrA.ID {
				t.Fatalf("B's new membership %+v took A's ids", mb)
			}
			// Cancelling A's Gold leaves B alone, and B's cancel leaves A's.
			if err := p.CancelMembership(ctx, crm.MembershipChange{Customer: b, Tier: gold}, crm.ReasonExpired); err != nil {
				t.Fatal(err)
			}
			if m := byID(t, fake, aGold.ID); m.Status != "Active" {
				t.Fatalf("B's cancel changed A's membership: %+v", m)
			}
			if err := p.CancelMembership(ctx, crm.MembershipChange{Customer: a, Tier: platinum}, crm.ReasonExpired); err != nil {
				t.Fatal(err)
			}
			if m := byID(t, fake, newB); m.Status != "Active" {
				t.Fatalf("A's cancel changed B's membership: %+v", m)
			}
		})
	}
}

// TestAListingThatNeverEndsFails: an API ignoring the filter for a big tenant would list
// more than the provider pages through; acting on part of it could duplicate a membership.
func TestAListingThatNeverEndsFails(t *testing.T) {
	fake, p := setup(t, func(o *c7test.Options) { o.IgnoreCustomerFilter = true }, nil)
	other := fake.AddCustomer(tenant, c7test.Customer{FirstName: "O", LastName: "T", Emails: []string{"o@example.com"}})
	for i := 0; i < 100*50+1; i++ {
		fake.AddMembership(tenant, c7test.Membership{CustomerID: other.ID, ClubID: gold.C7ClubID, Status: "Cancelled", OrderDeliveryMethod: "Pickup"})
	}
	c := member(t, fake, p, "cy@example.com")
	_, err := p.AddMembership(context.Background(), crm.MembershipChange{Customer: c, Tier: gold})
	wantErr(t, err, crm.Permanent, 0, "ignoring the customerId filter")
	if n := len(fake.Memberships(tenant, c.CRMID)); n != 0 {
		t.Fatalf("%d memberships made from a partial listing", n)
	}
}

func TestAddKeepsAMembershipScheduledToEndTooSoon(t *testing.T) {
	expires := start.AddDate(1, 0, 0)
	cases := []struct {
		name      string
		mode      c7test.ClearMode
		cancelIn  time.Duration // from start; the seeded membership's cancel date
		wantErr   string        // "" : the membership is kept
		wantClear bool          // the cancel date is gone afterwards
		wantPUT   bool
	}{
		{"ends before the enrollment: the cancel date is removed", c7test.ClearRemoves, 10 * 24 * time.Hour, "", true, true},
		{"ends after the enrollment: left as it is", c7test.ClearRemoves, 2 * 365 * 24 * time.Hour, "", false, false},
		{"Commerce7 ignores the removal", c7test.ClearIgnored, 10 * 24 * time.Hour, "Commerce7 kept the cancel date", false, true},
		{"Commerce7 refuses the removal", c7test.ClearRefused, 10 * 24 * time.Hour, "Commerce7 refused to remove it", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake, p, _ := clocked(t, func(o *c7test.Options) { o.CancelDateClear = tc.mode })
			c := member(t, fake, p, "di@example.com")
			cancel := start.Add(tc.cancelIn)
			old := fake.AddMembership(tenant, c7test.Membership{CustomerID: c.CRMID, ClubID: gold.C7ClubID, OrderDeliveryMethod: "Pickup",
				CancelDate: &cancel, CancellationReason: "Other"})
			id, err := p.AddMembership(context.Background(), crm.MembershipChange{Customer: c, Tier: gold, EnrolledAt: start, ExpiresAt: expires})
			if tc.wantErr != "" {
				e := wantErr(t, err, crm.Permanent, 0, tc.wantErr)
				if !strings.Contains(e.Message, "Remove Cancellation") || !strings.Contains(e.Message, "retry the queue row") {
					t.Fatalf("message %q does not tell the operator what to do", e.Message)
				}
			} else if err != nil || id != old.ID {
				t.Fatalf("add: %q %v, want the existing %q", id, err, old.ID)
			}
			ms := fake.Memberships(tenant, c.CRMID)
			if len(ms) != 1 || ms[0].Status != "Active" || (ms[0].CancelDate == nil) != tc.wantClear {
				t.Fatalf("memberships %+v (cancel date cleared: want %v)", ms, tc.wantClear)
			}
			puts := 0
			for _, r := range fake.Requests() {
				if r.Method == http.MethodPut {
					puts++
				}
			}
			if (puts > 0) != tc.wantPUT {
				t.Fatalf("%d PUTs, want some: %v", puts, tc.wantPUT)
			}
		})
	}
}

// TestAScheduledMembershipEndsOnItsDate: once the date is over the membership is
// Cancelled, and an add makes a new one.
func TestAScheduledMembershipEndsOnItsDate(t *testing.T) {
	fake, p, clk := clocked(t, nil)
	c := member(t, fake, p, "ed@example.com")
	cancel := start.Add(24 * time.Hour)
	old := fake.AddMembership(tenant, c7test.Membership{CustomerID: c.CRMID, ClubID: gold.C7ClubID, OrderDeliveryMethod: "Pickup",
		CancelDate: &cancel, CancellationReason: "Other"})
	// The enrollment ends first: the membership is kept as it is.
	change := crm.MembershipChange{Customer: c, Tier: gold, EnrolledAt: start, ExpiresAt: start.Add(12 * time.Hour)}
	if id, err := p.AddMembership(context.Background(), change); err != nil || id != old.ID {
		t.Fatalf("before the date: %q %v, want %q", id, err, old.ID)
	}
	clk.add(2 * 24 * time.Hour)
	change.ExpiresAt = clk.now().AddDate(1, 0, 0)
	id, err := p.AddMembership(context.Background(), change)
	if err != nil || id == old.ID {
		t.Fatalf("after the date: %q %v, want a new membership", id, err)
	}
	if m := byID(t, fake, old.ID); m.Status != "Cancelled" {
		t.Fatalf("old membership %+v, want Cancelled after its date", m)
	}
}

// TestCancelEndsAScheduledMembershipNow: the enrollment is over today; a schedule for a
// later date would keep the member in the club beyond it.
func TestCancelEndsAScheduledMembershipNow(t *testing.T) {
	fake, p, clk := clocked(t, nil)
	c := member(t, fake, p, "fay@example.com")
	later := start.AddDate(0, 1, 0)
	old := fake.AddMembership(tenant, c7test.Membership{CustomerID: c.CRMID, ClubID: gold.C7ClubID, OrderDeliveryMethod: "Pickup",
		CancelDate: &later, CancellationReason: "Moving"})
	if err := p.CancelMembership(context.Background(), crm.MembershipChange{Customer: c, Tier: gold}, crm.ReasonExpired); err != nil {
		t.Fatal(err)
	}
	m := byID(t, fake, old.ID)
	if m.Status != "Cancelled" || m.CancelDate == nil || !m.CancelDate.Equal(clk.now()) || m.CancellationReason != crm.ReasonExpired {
		t.Fatalf("membership %+v, want Cancelled today (%v) for %q", m, clk.now(), crm.ReasonExpired)
	}
}

func TestCardOnFile(t *testing.T) {
	cases := []struct {
		name     string
		require  bool
		cards    []c7test.CreditCard // given to the customer, in order
		wantCard string              // the membership's card; "" none
		wantErr  string
	}{
		{"not required, none on file", false, nil, "", ""},
		{"not required, one on file", false, []c7test.CreditCard{{ID: "card-1"}}, "card-1", ""},
		{"required, one on file", true, []c7test.CreditCard{{ID: "card-1"}}, "card-1", ""},
		{"required, the default of two", true, []c7test.CreditCard{{ID: "card-1"}, {ID: "card-2", IsDefault: true}}, "card-2", ""},
		{"required, none on file", true, nil, "", "add a card to this customer in Commerce7, then retry the queue row"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake, p := setup(t, func(o *c7test.Options) { o.RequireCard = tc.require }, nil)
			c := member(t, fake, p, "gil@example.com")
			for _, card := range tc.cards {
				card.CustomerID = c.CRMID
				fake.AddCreditCard(tenant, card)
			}
			id, err := p.AddMembership(context.Background(), crm.MembershipChange{Customer: c, Tier: gold})
			if tc.wantErr != "" {
				wantErr(t, err, crm.Permanent, 422, tc.wantErr)
				if n := len(fake.Memberships(tenant, c.CRMID)); n != 0 {
					t.Fatalf("%d memberships", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m := byID(t, fake, id); m.CustomerCreditCardID != tc.wantCard {
				t.Fatalf("membership card %q, want %q", m.CustomerCreditCardID, tc.wantCard)
			}
		})
	}
}

// TestUpgradeWithoutACardUsesTheDefault: an old membership made before cards were
// required has none; the new one gets the customer's default card.
func TestUpgradeWithoutACardUsesTheDefault(t *testing.T) {
	fake, p := setup(t, func(o *c7test.Options) { o.RequireCard = true }, nil)
	c := member(t, fake, p, "hal@example.com")
	addr := fake.AddAddress(tenant, c7test.Address{CustomerID: c.CRMID, Address: "5 Hill Rd", City: "Napa", StateCode: "CA", ZipCode: "94558", CountryCode: "US"})
	fake.AddMembership(tenant, c7test.Membership{CustomerID: c.CRMID, ClubID: gold.C7ClubID, OrderDeliveryMethod: "Ship",
		BillToCustomerAddressID: addr.ID, ShipToCustomerAddressID: addr.ID})
	card := fake.AddCreditCard(tenant, c7test.CreditCard{CustomerID: c.CRMID})
	id, err := p.UpgradeMembership(context.Background(), crm.MembershipChange{Customer: c, Tier: platinum, OldTier: &gold})
	if err != nil {
		t.Fatal(err)
	}
	if m := byID(t, fake, id); m.CustomerCreditCardID != card.ID || m.BillToCustomerAddressID != addr.ID {
		t.Fatalf("new membership %+v, want card %s and address %s", m, card.ID, addr.ID)
	}
}
