package shopifyapp_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/crm"
	"tiersync/internal/crm/shopify"
	"tiersync/internal/crm/shopify/shopifytest"
	"tiersync/internal/db"
	"tiersync/internal/db/dbtest"
	"tiersync/internal/secretbox"
	"tiersync/internal/shopifyapp"
	"tiersync/internal/testfactory"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// clock is the test's time, shared by the fake (token expiry) and the store (renewal).
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

// world is one Shopify client connected by the client credentials grant to the fake.
type world struct {
	pool     *pgxpool.Pool
	fake     *shopifytest.Fake
	client   *shopify.Client
	store    *shopifyapp.Store
	clock    *clock
	clientID string
	shop     string
}

const (
	appID     = "winery-app"
	appSecret = "winery-app-secret"
)

func newWorld(t *testing.T, secret string) *world {
	t.Helper()
	w := &world{pool: dbtest.New(t), clock: &clock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}}
	var url string
	w.fake, url = shopifytest.Start(t, shopifytest.Options{Now: w.clock.now})
	var err error
	w.client, err = shopify.New(shopify.Config{BaseURL: url, Timeout: 5 * time.Second, Now: w.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New([]byte(testfactory.SecretKey))
	if err != nil {
		t.Fatal(err)
	}
	w.store = shopifyapp.New(shopifyapp.Config{Pool: w.pool, Box: box, Grants: w.client, Now: w.clock.now})
	// A Shopify client (the factory makes it with a static token), connected instead by
	// its own app's client credentials.
	w.clientID = testfactory.Client(t, w.pool, testfactory.ClientOpts{CRMType: "shopify"})
	if err := w.pool.QueryRow(context.Background(), `SELECT tenant FROM clients WHERE id = $1`, w.clientID).Scan(&w.shop); err != nil {
		t.Fatal(err)
	}
	w.fake.AddShop(w.shop, "shpat_unused_static")
	w.fake.AddApp(shopifytest.App{ClientID: appID, ClientSecret: appSecret, Org: true})
	w.fake.Install(w.shop, appID)
	auth, id := shopifyapp.AuthClientCredentials, appID
	in := shopifyapp.NewConnection{Auth: &auth, ClientID: &id, ClientSecret: &secret}
	if err := in.Validate(shopifyapp.App{}); err != nil {
		t.Fatal(err)
	}
	err = db.InTx(context.Background(), w.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(context.Background(), `DELETE FROM shopify_connections WHERE client_id = $1`, w.clientID); err != nil {
			return err
		}
		return w.store.Create(context.Background(), tx, w.clientID, w.shop, in)
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) grants() int { return len(w.fake.TokenRequests()) }

func (w *world) state(t *testing.T) (state, why string) {
	t.Helper()
	if err := w.pool.QueryRow(context.Background(), `SELECT state, coalesce(state_error, '') FROM shopify_connections
		WHERE client_id = $1`, w.clientID).Scan(&state, &why); err != nil {
		t.Fatal(err)
	}
	return state, why
}

// The first call gets a token; it is reused until Early before it expires, then renewed;
// every call made with it succeeds.
func TestClientCredentialsTokensAreRenewedAheadOfExpiry(t *testing.T) {
	t.Parallel()
	w := newWorld(t, appSecret)
	ctx := context.Background()
	p := w.client.ProviderWith(w.clientID, w.shop, w.store.Tokens(w.clientID))
	customer := func() {
		t.Helper()
		if _, _, err := p.EnsureCustomer(ctx, crm.Customer{Email: "ann@example.com", FirstName: "A", LastName: "N"}); err != nil {
			t.Fatal(err)
		}
	}
	customer()
	if n := w.grants(); n != 1 {
		t.Fatalf("%d token requests after the first call, want 1", n)
	}
	w.clock.add(shopifytest.ClientCredentialsTTL - shopifyapp.Early - time.Minute)
	customer()
	if n := w.grants(); n != 1 {
		t.Fatalf("%d token requests while the token is fresh, want 1", n)
	}
	w.clock.add(2 * time.Minute) // within Early of the expiry
	customer()
	if n := w.grants(); n != 2 {
		t.Fatalf("%d token requests near the expiry, want 2", n)
	}
	if state, why := w.state(t); state != shopifyapp.StateConnected || why != "" {
		t.Fatalf("state %s (%s)", state, why)
	}
}

// A token Shopify refuses before its stored expiry (revoked, or a clock ahead) is renewed
// once on the 401 and the call succeeds; of many workers refused at once, one asks.
func TestA401RenewsOnceForEveryone(t *testing.T) {
	t.Parallel()
	w := newWorld(t, appSecret)
	ctx := context.Background()
	tokens := w.store.Tokens(w.clientID)
	first, err := tokens.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The shop forgets the token (reinstalled): the stored one still looks fresh.
	w.fake.Uninstall(w.shop, appID)
	w.fake.Install(w.shop, appID)
	var wg sync.WaitGroup
	got := make([]string, 8)
	errs := make([]error, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = tokens.Renew(ctx, first)
		}()
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i] == "" || got[i] == first || got[i] != got[0] {
			t.Fatalf("worker %d: %q, %v (first %q, worker 0 %q)", i, got[i], errs[i], first, got[0])
		}
	}
	if n := w.grants(); n != 2 {
		t.Fatalf("%d token requests for 8 workers refused at once, want 2 (the first token and one renewal)", n)
	}
	p := w.client.ProviderWith(w.clientID, w.shop, tokens)
	if _, _, err := p.EnsureCustomer(ctx, crm.Customer{Email: "bo@example.com", FirstName: "B", LastName: "O"}); err != nil {
		t.Fatal(err)
	}
}

// A token request that fails holds the client's rows (throttled: no attempt spent) and
// says why on the connection, never quoting the secret; it never fails a row.
func TestATokenFailureHoldsTheRows(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "not-the-app-secret")
	p := w.client.ProviderWith(w.clientID, w.shop, w.store.Tokens(w.clientID))
	_, _, err := p.EnsureCustomer(context.Background(), crm.Customer{Email: "cy@example.com", FirstName: "C", LastName: "Y"})
	e, ok := err.(*crm.Error)
	if !ok || e.Class != crm.Throttled || e.RetryAfter <= 0 {
		t.Fatalf("error %v (%T), want a throttled *crm.Error", err, err)
	}
	state, why := w.state(t)
	if state != shopifyapp.StateRefreshFailing || !strings.Contains(why, "client credentials grant failed") ||
		strings.Contains(why, "not-the-app-secret") || strings.Contains(e.Message, "not-the-app-secret") {
		t.Fatalf("state %s (%s); error %q", state, why, e.Message)
	}
	// The secret is fixed at Shopify's side (here: the app's secret becomes the stored
	// one): the next attempt connects again.
	w.fake.AddApp(shopifytest.App{ClientID: appID, ClientSecret: "not-the-app-secret", Org: true})
	if _, _, err := p.EnsureCustomer(context.Background(), crm.Customer{Email: "cy@example.com", FirstName: "C", LastName: "Y"}); err != nil {
		t.Fatal(err)
	}
	if state, why := w.state(t); state != shopifyapp.StateConnected || why != "" {
		t.Fatalf("after the fix: state %s (%s)", state, why)
	}
}

// Upgrading from one webhook secret for every shop: the static-token clients without a
// secret of their own get it, once, and then verify with it.
func TestLegacyWebhookSecretIsAdoptedOnce(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	box, err := secretbox.New([]byte(testfactory.SecretKey))
	if err != nil {
		t.Fatal(err)
	}
	store := shopifyapp.New(shopifyapp.Config{Pool: pool, Box: box})
	own := testfactory.Client(t, pool, testfactory.ClientOpts{CRMType: "shopify", ShopifyWebhookSecret: "its-own"})
	old := testfactory.Client(t, pool, testfactory.ClientOpts{CRMType: "shopify"})
	if _, err := pool.Exec(context.Background(), `UPDATE shopify_connections SET webhook_secret_enc = NULL WHERE client_id = $1`, old); err != nil {
		t.Fatal(err)
	}
	for round, want := range []int{1, 0} {
		n, err := store.AdoptLegacyWebhookSecret(context.Background(), "the-global-secret")
		if err != nil || n != want {
			t.Fatalf("round %d: adopted %d, %v; want %d", round, n, err, want)
		}
	}
	for id, want := range map[string]string{own: "its-own", old: "the-global-secret"} {
		var shop string
		if err := pool.QueryRow(context.Background(), `SELECT tenant FROM clients WHERE id = $1`, id).Scan(&shop); err != nil {
			t.Fatal(err)
		}
		gotID, secret, err := store.WebhookSecret(context.Background(), strings.ToUpper(shop))
		if err != nil || gotID != id || secret != want {
			t.Fatalf("%s: %s %q %v, want %q", shop, gotID, secret, err, want)
		}
	}
}
