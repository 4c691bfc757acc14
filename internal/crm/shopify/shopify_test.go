package shopify_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"tiersync/internal/crm"
	"tiersync/internal/crm/crmtest"
	"tiersync/internal/crm/shopify"
	"tiersync/internal/crm/shopify/shopifytest"
)

const (
	shop  = "napa-cellars.myshopify.com"
	token = "shpat_napa"
)

var (
	gold     = crm.Tier{ID: "tier-gold", Name: "Gold", ShopifyTag: "club-gold"}
	platinum = crm.Tier{ID: "tier-platinum", Name: "Platinum", ShopifyTag: "club-platinum"}
)

// clock is shared by the fake's bucket and the client, whose waits move it: no test
// sleeps, and every wait is measured exactly.
type clock struct {
	mu     sync.Mutex
	t      time.Time
	waited time.Duration
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) wait(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.waited += d
	return nil
}

func setup(t *testing.T, opts shopifytest.Options, cfg func(*shopify.Config)) (*shopifytest.Fake, *shopify.Provider, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	opts.Shops = map[string]string{shop: token}
	opts.Now = clk.now
	fake, url := shopifytest.Start(t, opts)
	c := shopify.Config{BaseURL: url, Version: shopify.DefaultVersion, Timeout: 5 * time.Second, Now: clk.now, Wait: clk.wait}
	if cfg != nil {
		cfg(&c)
	}
	client, err := shopify.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return fake, client.Provider("client-1", shop, token), clk
}

type backend struct{ fake *shopifytest.Fake }

func (b *backend) New(t *testing.T) crm.Provider {
	fake, p, _ := setup(t, shopifytest.Options{}, nil)
	b.fake = fake
	return p
}

func (b *backend) Tiers(*testing.T) (crm.Tier, crm.Tier) { return gold, platinum }

func (b *backend) Members(_ *testing.T, customerID string, tier crm.Tier) []string {
	c, ok := b.fake.Customer(shop, customerID)
	for _, tag := range c.Tags {
		if ok && tag == tier.ShopifyTag {
			return []string{c.ID}
		}
	}
	return nil
}

func (b *backend) Customers(_ *testing.T, email string) int {
	n := 0
	for _, c := range b.fake.Customers(shop) {
		if strings.EqualFold(c.Email, email) {
			n++
		}
	}
	return n
}

func (b *backend) AddCustomer(_ *testing.T, email string) string {
	return b.fake.AddCustomer(shop, shopifytest.Customer{Email: email, FirstName: "Merchant", LastName: "Made"}).ID
}

func operation(op crmtest.Op) string {
	return map[crmtest.Op]string{crmtest.OpCreateCustomer: "customerCreate", crmtest.OpCreateMembership: "tagsAdd",
		crmtest.OpCancelMembership: "tagsRemove", crmtest.OpAny: ""}[op]
}

func (b *backend) LoseNextAnswer(_ *testing.T, op crmtest.Op) {
	b.fake.Inject(shopifytest.Fault{Operation: operation(op), Kind: shopifytest.FaultLoseAnswer})
}

func (b *backend) FailNext(_ *testing.T, op crmtest.Op, status int) {
	b.fake.Inject(shopifytest.Fault{Operation: operation(op), Kind: shopifytest.FaultStatus, Status: status})
}

func TestContract(t *testing.T) { crmtest.Run(t, &backend{}) }

func customer(t *testing.T, fake *shopifytest.Fake, tags ...string) crm.Customer {
	t.Helper()
	c := fake.AddCustomer(shop, shopifytest.Customer{Email: "ada@example.com", FirstName: "Ada", LastName: "L", Tags: tags})
	return crm.Customer{CRMID: c.ID, Email: c.Email}
}

func wantErr(t *testing.T, err error, class crm.Class, msg string) *crm.Error {
	t.Helper()
	e, ok := err.(*crm.Error)
	if !ok || e.Class != class || !strings.Contains(e.Message, msg) {
		t.Fatalf("error %v (%T), want class %v containing %q", err, err, class, msg)
	}
	return e
}

func TestTheMerchantsTagsSurvive(t *testing.T) {
	fake, p, _ := setup(t, shopifytest.Options{}, nil)
	c := customer(t, fake, "vip", "wholesale")
	ctx := context.Background()
	expires := time.Date(2027, 11, 25, 0, 0, 0, 0, time.UTC)
	state := func() (string, map[string]shopifytest.Metafield) {
		got, _ := fake.Customer(shop, c.CRMID)
		return strings.Join(got.Tags, ","), got.Metafields
	}

	if _, err := p.AddMembership(ctx, crm.MembershipChange{Customer: c, Tier: gold, ExpiresAt: expires}); err != nil {
		t.Fatal(err)
	}
	tags, mf := state()
	if tags != "vip,wholesale,club-gold" || mf["tiersync.tier"].Value != "Gold" ||
		mf["tiersync.expires_at"] != (shopifytest.Metafield{Type: "date_time", Value: "2027-11-25T00:00:00Z"}) {
		t.Fatalf("after add: %s %v", tags, mf)
	}
	if _, err := p.UpgradeMembership(ctx, crm.MembershipChange{Customer: c, Tier: platinum, OldTier: &gold, ExpiresAt: expires}); err != nil {
		t.Fatal(err)
	}
	if tags, mf = state(); tags != "vip,wholesale,club-platinum" || mf["tiersync.tier"].Value != "Platinum" {
		t.Fatalf("after upgrade: %s %v", tags, mf)
	}
	// A late cancel of the old tier must not strip the new tier's metafields.
	if err := p.CancelMembership(ctx, crm.MembershipChange{Customer: c, Tier: gold}, crm.ReasonExpired); err != nil {
		t.Fatal(err)
	}
	if tags, mf = state(); tags != "vip,wholesale,club-platinum" || mf["tiersync.tier"].Value != "Platinum" {
		t.Fatalf("after cancelling the old tier: %s %v", tags, mf)
	}
	if err := p.CancelMembership(ctx, crm.MembershipChange{Customer: c, Tier: platinum}, crm.ReasonExpired); err != nil {
		t.Fatal(err)
	}
	if tags, mf = state(); tags != "vip,wholesale" || len(mf) != 0 {
		t.Fatalf("after cancel: %s %v", tags, mf)
	}
}

// TestNeverSendsWhatTheBucketCannotPay drains a small bucket: the client waits from the
// figures Shopify reports, so no request is ever throttled, and it waits no longer than
// the restore rate needs.
func TestNeverSendsWhatTheBucketCannotPay(t *testing.T) {
	fake, p, clk := setup(t, shopifytest.Options{BucketSize: 25, RestoreRate: 5}, nil)
	ctx := context.Background()
	for i := 0; i < 6; i++ {
		c := customer(t, fake)
		c.Email = fmt.Sprintf("m%d@example.com", i)
		if _, err := p.AddMembership(ctx, crm.MembershipChange{Customer: c, Tier: gold}); err != nil {
			t.Fatalf("add %d: %v", i, err)
		}
	}
	var spent float64
	for _, r := range fake.Requests() {
		if r.Throttled {
			t.Fatalf("request %+v was throttled", r)
		}
		spent += r.Cost
	}
	// 12 mutations of 10 points from a bucket of 25 restoring 5/s: at least (120-25)/5 s.
	if min := time.Duration((spent - 25) / 5 * float64(time.Second)); clk.waited < min || clk.waited > min+2*time.Second {
		t.Fatalf("waited %v for %v points; the bucket needs at least %v", clk.waited, spent, min)
	}
}

func TestThrottledWaitComesFromTheCostFigures(t *testing.T) {
	fake, p, _ := setup(t, shopifytest.Options{RestoreRate: 2}, nil)
	c := customer(t, fake)
	fake.Inject(shopifytest.Fault{Operation: "tagsAdd", Kind: shopifytest.FaultThrottle}) // another app drained it
	_, err := p.AddMembership(context.Background(), crm.MembershipChange{Customer: c, Tier: gold})
	e := wantErr(t, err, crm.Throttled, "Throttled")
	// requestedQueryCost 10, currentlyAvailable 0, restoreRate 2: 5 s.
	if e.RetryAfter != 5*time.Second || e.Status != 200 {
		t.Fatalf("throttled for %v (HTTP %d), want 5s", e.RetryAfter, e.Status)
	}
}

func TestTooManyRequestsCarriesRetryAfter(t *testing.T) {
	fake, p, _ := setup(t, shopifytest.Options{}, nil)
	c := customer(t, fake)
	fake.Inject(shopifytest.Fault{Kind: shopifytest.FaultStatus, Status: 429, RetryAfter: 7})
	_, err := p.AddMembership(context.Background(), crm.MembershipChange{Customer: c, Tier: gold})
	if e := wantErr(t, err, crm.Throttled, ""); e.RetryAfter != 7*time.Second || e.Status != 429 {
		t.Fatalf("throttled %v (HTTP %d), want 7s", e.RetryAfter, e.Status)
	}
}

func TestEmailTakenMeansReadAgain(t *testing.T) {
	fake, p, _ := setup(t, shopifytest.Options{SearchLag: 1}, nil)
	ctx := context.Background()
	c := crm.Customer{Email: "new@example.com", FirstName: "N", LastName: "W"}
	fake.Inject(shopifytest.Fault{Operation: "customerCreate", Kind: shopifytest.FaultLoseAnswer})
	_, _, err := p.EnsureCustomer(ctx, c)
	wantErr(t, err, crm.Retryable, "")
	// The retry's search misses the customer (the index lags), its create is told "taken",
	// and the second search finds it.
	id, _, err := p.EnsureCustomer(ctx, c)
	if err != nil || id == "" {
		t.Fatalf("retry: %q %v", id, err)
	}
	if all := fake.Customers(shop); len(all) != 1 || all[0].ID != id {
		t.Fatalf("customers %+v, id %q", all, id)
	}
	var ops []string
	for _, r := range fake.Requests() {
		ops = append(ops, r.Operation)
	}
	if got := strings.Join(ops, " "); got != "customers customerCreate customers customerCreate customers" {
		t.Fatalf("requests: %s", got)
	}
}

func TestUserErrorsArePermanent(t *testing.T) {
	_, p, _ := setup(t, shopifytest.Options{}, nil)
	_, err := p.AddMembership(context.Background(), crm.MembershipChange{
		Customer: crm.Customer{CRMID: "gid://shopify/Customer/1"}, Tier: gold})
	wantErr(t, err, crm.Permanent, "id: Customer does not exist")
	_, _, err = p.EnsureCustomer(context.Background(), crm.Customer{Email: "not-an-email", FirstName: "X", LastName: "Y"})
	wantErr(t, err, crm.Permanent, "email: Email is invalid")
}

func TestWrongTokenIsPermanent(t *testing.T) {
	_, url := shopifytest.Start(t, shopifytest.Options{Shops: map[string]string{shop: token}})
	client, err := shopify.New(shopify.Config{BaseURL: url, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = client.Provider("c", shop, "wrong").EnsureCustomer(context.Background(), crm.Customer{Email: "a@example.com"})
	if e := wantErr(t, err, crm.Permanent, "Invalid API key or access token"); e.Status != 401 {
		t.Fatalf("status %d", e.Status)
	}
}

// TestShopInTheURL: by default each shop's calls go to https://{shop}/admin/api/…; here
// the transport dials the fake whatever the host, and the fake records the Host asked for.
func TestShopInTheURL(t *testing.T) {
	fake, url := shopifytest.Start(t, shopifytest.Options{Shops: map[string]string{shop: token}})
	addr := strings.TrimPrefix(url, "http://")
	transport := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	client, err := shopify.New(shopify.Config{BaseURL: "http://{shop}", HTTP: &http.Client{Transport: transport}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := client.Provider("c", shop, token).EnsureCustomer(context.Background(),
		crm.Customer{Email: "a@example.com", FirstName: "A", LastName: "B"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range fake.Requests() {
		if r.Host != shop || r.Path != "/admin/api/"+shopify.DefaultVersion+"/graphql.json" {
			t.Fatalf("request went to %s%s", r.Host, r.Path)
		}
	}
}

func TestAHangingCallEndsAtItsDeadline(t *testing.T) {
	fake, p, _ := setup(t, shopifytest.Options{}, func(c *shopify.Config) { c.Timeout = 100 * time.Millisecond })
	fake.Inject(shopifytest.Fault{Kind: shopifytest.FaultHang})
	start := time.Now()
	_, _, err := p.EnsureCustomer(context.Background(), crm.Customer{Email: "h@example.com", FirstName: "H", LastName: "A"})
	elapsed := time.Since(start)
	wantErr(t, err, crm.Retryable, "")
	// It is the deadline that ended it: not sooner (another error), and not much later
	// (the generous upper bound only catches a call that ignores its deadline).
	if elapsed < 100*time.Millisecond || elapsed > 5*time.Second {
		t.Fatalf("the hanging call ended after %v, want at its 100 ms deadline", elapsed)
	}
}

func TestAStaleCustomerIDIsReplaced(t *testing.T) {
	fake, p, _ := setup(t, shopifytest.Options{}, nil)
	current := fake.AddCustomer(shop, shopifytest.Customer{Email: "ada@example.com"})
	ctx := context.Background()
	id, _, err := p.EnsureCustomer(ctx, crm.Customer{CRMID: current.ID, Email: "ada@example.com"})
	if err != nil || id != current.ID {
		t.Fatalf("a live id: %q %v", id, err)
	}
	// The merchant deleted the customer we knew and made her again.
	id, _, err = p.EnsureCustomer(ctx, crm.Customer{CRMID: "gid://shopify/Customer/1", Email: "ada@example.com"})
	if err != nil || id != current.ID {
		t.Fatalf("a stale id: %q %v, want %s", id, err, current.ID)
	}
}
