package commerce7_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tiersync/internal/crm"
	"tiersync/internal/crm/commerce7"
	"tiersync/internal/crm/commerce7/c7test"
	"tiersync/internal/crm/crmtest"
)

const (
	appID  = "tiersync-app"
	secret = "c7-secret"
	tenant = "napa-cellars"
)

var (
	gold     = crm.Tier{ID: "tier-gold", Name: "Gold", C7ClubID: "club-gold", C7DeliveryMethod: "Ship"}
	platinum = crm.Tier{ID: "tier-platinum", Name: "Platinum", C7ClubID: "club-platinum", C7DeliveryMethod: "Ship"}
)

// clock is a settable clock for the fake's rate-limit window.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// setup starts a fake Commerce7 with the two clubs and returns it with a provider for the
// tenant; opts may change the fake's options and the client's config.
func setup(t *testing.T, fakeOpts func(*c7test.Options), cfgOpts func(*commerce7.Config)) (*c7test.Fake, *commerce7.Provider) {
	t.Helper()
	o := c7test.Options{AppID: appID, AppSecret: secret, Tenants: []string{tenant}, RateLimit: -1}
	if fakeOpts != nil {
		fakeOpts(&o)
	}
	fake, url := c7test.Start(t, o)
	fake.AddClub(tenant, gold.C7ClubID)
	fake.AddClub(tenant, platinum.C7ClubID)
	cfg := commerce7.Config{BaseURL: url, AppID: appID, Key: secret, Timeout: 5 * time.Second}
	if cfgOpts != nil {
		cfgOpts(&cfg)
	}
	c, err := commerce7.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return fake, c.Provider("client-1", tenant)
}

// backend is the contract's view of the fake; opts sets the fake's switches.
type backend struct {
	fake *c7test.Fake
	opts func(*c7test.Options)
}

func (b *backend) New(t *testing.T) crm.Provider {
	fake, p := setup(t, b.opts, nil)
	b.fake = fake
	return p
}

func (b *backend) Tiers(*testing.T) (crm.Tier, crm.Tier) { return gold, platinum }

func (b *backend) Members(_ *testing.T, customerID string, tier crm.Tier) []string {
	var ids []string
	for _, m := range b.fake.Memberships(tenant, customerID) {
		if m.ClubID == tier.C7ClubID && (m.Status == "Active" || m.Status == "On Hold") {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

func (b *backend) Customers(_ *testing.T, email string) int {
	n := 0
	for _, c := range b.fake.Customers(tenant) {
		for _, e := range c.Emails {
			if strings.EqualFold(e, email) {
				n++
			}
		}
	}
	return n
}

func (b *backend) AddCustomer(_ *testing.T, email string) string {
	return b.fake.AddCustomer(tenant, c7test.Customer{FirstName: "Merchant", LastName: "Made", Emails: []string{email}}).ID
}

// Ready gives the customer a card on file, as a winery that requires one has.
func (b *backend) Ready(_ *testing.T, customerCRMID string) {
	b.fake.AddCreditCard(tenant, c7test.CreditCard{CustomerID: customerCRMID})
}

func fault(op crmtest.Op) c7test.Fault {
	switch op {
	case crmtest.OpCreateCustomer:
		return c7test.Fault{Method: http.MethodPost, Path: "/customer"}
	case crmtest.OpCreateMembership:
		return c7test.Fault{Method: http.MethodPost, Path: "/club-membership"}
	case crmtest.OpCancelMembership:
		return c7test.Fault{Method: http.MethodPut, Path: "/club-membership"}
	default:
		return c7test.Fault{}
	}
}

func (b *backend) LoseNextAnswer(_ *testing.T, op crmtest.Op) {
	f := fault(op)
	f.Count, f.Kind = 1, c7test.FaultLoseAnswer
	b.fake.Inject(f)
}

func (b *backend) FailNext(_ *testing.T, op crmtest.Op, status int) {
	f := fault(op)
	f.Count, f.Kind, f.Status = 1, c7test.FaultStatus, status
	b.fake.Inject(f)
}

// TestContract runs the provider contract against the fake with each switch position of
// the behaviours no public source confirms (docs/crm-assumptions.md).
func TestContract(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts func(*c7test.Options)
	}{
		{"as documented", nil},
		{"customer filter ignored", func(o *c7test.Options) { o.IgnoreCustomerFilter = true }},
		{"card required", func(o *c7test.Options) { o.RequireCard = true }},
		{"filter ignored and card required", func(o *c7test.Options) { o.IgnoreCustomerFilter, o.RequireCard = true, true }},
	} {
		t.Run(tc.name, func(t *testing.T) { crmtest.Run(t, &backend{opts: tc.opts}) })
	}
}

func member(t *testing.T, fake *c7test.Fake, p *commerce7.Provider, email string) crm.Customer {
	t.Helper()
	c := crm.Customer{Email: email, FirstName: "Ada", LastName: "Lovelace",
		Address: &crm.Address{Address: "1 Vine St", City: "Napa", StateCode: "CA", ZipCode: "94558", CountryCode: "US"}}
	id, _, err := p.EnsureCustomer(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	c.CRMID = id
	return c
}

func wantErr(t *testing.T, err error, class crm.Class, status int, msg string) *crm.Error {
	t.Helper()
	e, ok := err.(*crm.Error)
	if !ok {
		t.Fatalf("error %v (%T), want *crm.Error", err, err)
	}
	if e.Class != class || e.Status != status || !strings.Contains(e.Message, msg) {
		t.Fatalf("error %q: class %v status %d, want %v %d containing %q", e, e.Class, e.Status, class, status, msg)
	}
	return e
}

func TestAddCreatesTheEnrollmentAddressAndUsesIt(t *testing.T) {
	fake, p := setup(t, nil, nil)
	c := member(t, fake, p, "ada@example.com")
	id, err := p.AddMembership(context.Background(), crm.MembershipChange{Customer: c, Tier: gold,
		EnrolledAt: time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	addrs := fake.Addresses(tenant, c.CRMID)
	if len(addrs) != 1 || !addrs[0].IsDefault || addrs[0].City != "Napa" || addrs[0].StateCode != "CA" {
		t.Fatalf("addresses %+v", addrs)
	}
	ms := fake.Memberships(tenant, c.CRMID)
	if len(ms) != 1 || ms[0].ID != id || ms[0].OrderDeliveryMethod != "Ship" ||
		ms[0].BillToCustomerAddressID != addrs[0].ID || ms[0].ShipToCustomerAddressID != addrs[0].ID ||
		!ms[0].SignupDate.Equal(time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("memberships %+v", ms)
	}
}

func TestAddUsesTheCustomersDefaultAddressAndPickup(t *testing.T) {
	fake, p := setup(t, nil, nil)
	c := member(t, fake, p, "bo@example.com")
	fake.AddAddress(tenant, c7test.Address{CustomerID: c.CRMID, Address: "9 Old Rd", City: "Sonoma", StateCode: "CA", ZipCode: "95476", CountryCode: "US"})
	home := fake.AddAddress(tenant, c7test.Address{CustomerID: c.CRMID, Address: "2 Main St", City: "Napa", StateCode: "CA", ZipCode: "94558", CountryCode: "US", IsDefault: true})
	pickup := gold
	pickup.C7DeliveryMethod, pickup.PickupLocationID = "Pickup", "loc-napa"
	if _, err := p.AddMembership(context.Background(), crm.MembershipChange{Customer: c, Tier: pickup}); err != nil {
		t.Fatal(err)
	}
	ms := fake.Memberships(tenant, c.CRMID)
	if len(ms) != 1 || ms[0].OrderDeliveryMethod != "Pickup" || ms[0].PickupInventoryLocationID != "loc-napa" ||
		ms[0].BillToCustomerAddressID != home.ID || ms[0].ShipToCustomerAddressID != "" {
		t.Fatalf("memberships %+v, default address %s", ms, home.ID)
	}
	if n := len(fake.Addresses(tenant, c.CRMID)); n != 2 {
		t.Fatalf("%d addresses: the default one must be used, not a new one made", n)
	}
}

func TestShipWithoutAnyAddressFailsWithTheCRMsMessage(t *testing.T) {
	fake, p := setup(t, nil, nil)
	c := member(t, fake, p, "cy@example.com")
	c.Address = nil
	_, err := p.AddMembership(context.Background(), crm.MembershipChange{Customer: c, Tier: gold})
	wantErr(t, err, crm.Permanent, 422, "shipToCustomerAddressId is required")
}

func TestUpgradeKeepsAddressAndCardEvenAfterACrash(t *testing.T) {
	fake, p := setup(t, nil, nil)
	c := member(t, fake, p, "di@example.com")
	addr := fake.AddAddress(tenant, c7test.Address{CustomerID: c.CRMID, Address: "5 Hill Rd", City: "Napa", StateCode: "CA", ZipCode: "94558", CountryCode: "US", IsDefault: true})
	old := fake.AddMembership(tenant, c7test.Membership{CustomerID: c.CRMID, ClubID: gold.C7ClubID, Status: "Active",
		OrderDeliveryMethod: "Ship", BillToCustomerAddressID: addr.ID, ShipToCustomerAddressID: addr.ID, CustomerCreditCardID: "card-77"})
	// The create fails after the cancel went through: the retry must read the ids from the
	// cancelled membership.
	fake.Inject(c7test.Fault{Method: http.MethodPost, Path: "/club-membership", Count: 1, Kind: c7test.FaultStatus, Status: 503})
	up := crm.MembershipChange{Customer: c, Tier: platinum, OldTier: &gold}
	_, err := p.UpgradeMembership(context.Background(), up)
	wantErr(t, err, crm.Retryable, 503, "")
	id, err := p.UpgradeMembership(context.Background(), up)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range fake.Memberships(tenant, c.CRMID) {
		switch m.ID {
		case old.ID:
			if m.Status != "Cancelled" || m.CancellationReason != "Switching to another club" || m.CancelDate == nil {
				t.Fatalf("old membership %+v", m)
			}
		case id:
			if m.Status != "Active" || m.ClubID != platinum.C7ClubID || m.CustomerCreditCardID != "card-77" ||
				m.BillToCustomerAddressID != addr.ID || m.ShipToCustomerAddressID != addr.ID {
				t.Fatalf("new membership %+v", m)
			}
		default:
			t.Fatalf("unexpected membership %+v", m)
		}
	}
}

func TestMembershipsArePagedThrough(t *testing.T) {
	fake, p := setup(t, nil, nil)
	c := member(t, fake, p, "ed@example.com")
	for i := 0; i < 60; i++ {
		fake.AddMembership(tenant, c7test.Membership{CustomerID: c.CRMID, ClubID: gold.C7ClubID, Status: "Cancelled", OrderDeliveryMethod: "Pickup"})
	}
	onHold := fake.AddMembership(tenant, c7test.Membership{CustomerID: c.CRMID, ClubID: gold.C7ClubID, Status: "On Hold", OrderDeliveryMethod: "Pickup"})
	id, err := p.AddMembership(context.Background(), crm.MembershipChange{Customer: c, Tier: gold})
	if err != nil || id != onHold.ID {
		t.Fatalf("add answered %q (%v), want the On Hold membership on page 2, %q", id, err, onHold.ID)
	}
	if n := len(fake.Memberships(tenant, c.CRMID)); n != 61 {
		t.Fatalf("%d memberships, want 61 (none created)", n)
	}
}

func TestThrottledCarriesTheServersWait(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	_, p := setup(t, func(o *c7test.Options) { o.RateLimit = 2; o.Now = clk.now }, nil)
	ctx := context.Background()
	// A search and a create: the fake's two requests for this minute.
	if _, _, err := p.EnsureCustomer(ctx, crm.Customer{Email: "fay@example.com", FirstName: "F", LastName: "Y"}); err != nil {
		t.Fatal(err)
	}
	clk.add(15 * time.Second)
	_, _, err := p.EnsureCustomer(ctx, crm.Customer{Email: "gil@example.com", FirstName: "G", LastName: "I"})
	e := wantErr(t, err, crm.Throttled, 429, "")
	if e.RetryAfter != 45*time.Second {
		t.Fatalf("retry after %v, want 45s (the rest of the fake's minute)", e.RetryAfter)
	}
	clk.add(45 * time.Second)
	if _, _, err := p.EnsureCustomer(ctx, crm.Customer{Email: "gil@example.com", FirstName: "G", LastName: "I"}); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestAHangingCallEndsAtItsDeadline(t *testing.T) {
	fake, p := setup(t, nil, func(c *commerce7.Config) { c.Timeout = 100 * time.Millisecond })
	fake.Inject(c7test.Fault{Count: 1, Kind: c7test.FaultHang})
	start := time.Now()
	_, _, err := p.EnsureCustomer(context.Background(), crm.Customer{Email: "hal@example.com", FirstName: "H", LastName: "A"})
	elapsed := time.Since(start)
	e := wantErr(t, err, crm.Retryable, 0, "")
	if e.Err == nil {
		t.Fatal("no transport error recorded")
	}
	// It is the deadline that ended it: not sooner (another error), and not much later
	// (the generous upper bound only catches a call that ignores its deadline).
	if elapsed < 100*time.Millisecond || elapsed > 5*time.Second {
		t.Fatalf("the hanging call ended after %v, want at its 100 ms deadline", elapsed)
	}
}

func TestErrorsInA200ArePermanent(t *testing.T) {
	fake, p := setup(t, nil, nil)
	c := member(t, fake, p, "ida@example.com")
	fake.Inject(c7test.Fault{Method: http.MethodPost, Path: "/club-membership", Count: 1, Kind: c7test.FaultErrorsIn200})
	_, err := p.AddMembership(context.Background(), crm.MembershipChange{Customer: c, Tier: gold})
	wantErr(t, err, crm.Permanent, 200, "injected error in a 200 answer")
	if n := len(fake.Memberships(tenant, c.CRMID)); n != 0 {
		t.Fatalf("%d memberships", n)
	}
}

func TestWrongCredentialsArePermanent(t *testing.T) {
	_, p := setup(t, nil, func(c *commerce7.Config) { c.Key = "wrong" })
	_, _, err := p.EnsureCustomer(context.Background(), crm.Customer{Email: "jo@example.com", FirstName: "J", LastName: "O"})
	wantErr(t, err, crm.Permanent, 401, "Invalid credentials")
}

// countingLimiter counts tokens taken, per client.
type countingLimiter struct {
	n      atomic.Int64
	client atomic.Value
}

func (l *countingLimiter) Take(_ context.Context, clientID string) error {
	l.n.Add(1)
	l.client.Store(clientID)
	return nil
}

func TestEveryRequestTakesAToken(t *testing.T) {
	lim := &countingLimiter{}
	fake, p := setup(t, nil, func(c *commerce7.Config) { c.Limiter = lim })
	c := member(t, fake, p, "kay@example.com")
	if _, err := p.AddMembership(context.Background(), crm.MembershipChange{Customer: c, Tier: gold}); err != nil {
		t.Fatal(err)
	}
	requests := len(fake.Requests())
	if requests < 4 || lim.n.Load() != int64(requests) || lim.client.Load() != "client-1" {
		t.Fatalf("%d tokens (client %v) for %d requests", lim.n.Load(), lim.client.Load(), requests)
	}
}

func TestRequestsCarryAuthAndTenant(t *testing.T) {
	fake, p := setup(t, nil, nil)
	member(t, fake, p, "lu@example.com")
	for _, r := range fake.Requests() {
		if r.Tenant != tenant || r.Status == 401 || r.Status == 400 {
			t.Fatalf("request %+v", r)
		}
	}
}

// A customer EnsureCustomer created a moment ago has nothing on file: the add skips the
// listings (memberships, addresses, cards) and makes only what it needs. A customer that
// was found, not created, is read in full as before.
func TestAddForACustomerCreatedNowSkipsTheListings(t *testing.T) {
	home := &crm.Address{Address: "1 Vine St", City: "Napa", StateCode: "CA", ZipCode: "94558", CountryCode: "US"}
	pickup := gold
	pickup.C7DeliveryMethod, pickup.PickupLocationID = "Pickup", "loc-napa"
	for _, tc := range []struct {
		name     string
		tier     crm.Tier
		address  *crm.Address
		existing bool // the customer is in Commerce7 already: found by the search
		want     []string
	}{
		{"new, Pickup, no address", pickup, nil, false,
			[]string{"GET /customer", "POST /customer", "POST /club-membership"}},
		{"new, Ship, with address", gold, home, false,
			[]string{"GET /customer", "POST /customer", "POST /customer/{id}/address", "POST /club-membership"}},
		{"found by email, Pickup", pickup, nil, true,
			[]string{"GET /customer", "GET /club-membership", "GET /customer/{id}/address",
				"GET /customer/{id}/credit-card", "POST /club-membership"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, p := setup(t, nil, nil)
			ctx := context.Background()
			c := crm.Customer{Email: "new@example.com", FirstName: "N", LastName: "W", Address: tc.address}
			if tc.existing {
				fake.AddCustomer(tenant, c7test.Customer{FirstName: "N", LastName: "W", Emails: []string{c.Email}})
			}
			before := len(fake.Requests())
			id, created, err := p.EnsureCustomer(ctx, c)
			if err != nil || created == tc.existing {
				t.Fatalf("EnsureCustomer: %s, created %v, %v", id, created, err)
			}
			c.CRMID, c.Created = id, created
			mid, err := p.AddMembership(ctx, crm.MembershipChange{Customer: c, Tier: tc.tier})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range fake.Requests()[before:] {
				got = append(got, r.Method+" "+strings.ReplaceAll(r.Path, id, "{id}"))
			}
			if strings.Join(got, ", ") != strings.Join(tc.want, ", ") {
				t.Fatalf("requests:\n got %v\nwant %v", got, tc.want)
			}
			ms := fake.Memberships(tenant, id)
			if len(ms) != 1 || ms[0].ID != mid || ms[0].OrderDeliveryMethod != tc.tier.C7DeliveryMethod {
				t.Fatalf("memberships %+v", ms)
			}
			if tc.address != nil {
				addrs := fake.Addresses(tenant, id)
				if len(addrs) != 1 || ms[0].ShipToCustomerAddressID != addrs[0].ID || ms[0].BillToCustomerAddressID != addrs[0].ID {
					t.Fatalf("addresses %+v, membership %+v", addrs, ms[0])
				}
			}
		})
	}
}
