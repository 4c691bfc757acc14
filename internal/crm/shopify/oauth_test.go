package shopify_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"tiersync/internal/crm"
	"tiersync/internal/crm/shopify"
	"tiersync/internal/crm/shopify/shopifytest"
)

const (
	orgApp, orgSecret       = "org-app", "org-secret-4f1c"
	publicApp, publicSecret = "public-app", "public-secret-9a2e"
)

// countingLimiter counts the rate-limit tokens taken.
type countingLimiter struct {
	mu sync.Mutex
	n  int
}

func (l *countingLimiter) Take(context.Context, string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	return nil
}

func (l *countingLimiter) taken() int { l.mu.Lock(); defer l.mu.Unlock(); return l.n }

// setupAuth is a fake with an Org app installed on the shop and a public app, and a
// client on the same clock.
func setupAuth(t *testing.T) (*shopifytest.Fake, *shopify.Client, *clock, *countingLimiter) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	fake, base := shopifytest.Start(t, shopifytest.Options{Now: clk.now})
	fake.AddApp(shopifytest.App{ClientID: orgApp, ClientSecret: orgSecret, Org: true})
	fake.AddApp(shopifytest.App{ClientID: publicApp, ClientSecret: publicSecret})
	fake.Install(shop, orgApp)
	lim := &countingLimiter{}
	client, err := shopify.New(shopify.Config{BaseURL: base, Timeout: 5 * time.Second, Now: clk.now, Wait: clk.wait, Limiter: lim})
	if err != nil {
		t.Fatal(err)
	}
	return fake, client, clk, lim
}

// install runs the authorization page for the public app and returns the callback's query.
func install(t *testing.T, client *shopify.Client, state string) url.Values {
	t.Helper()
	u := client.AuthorizeURL(shop, publicApp, []string{"read_customers", "write_customers"}, "https://tiersync.example/shopify/callback", state)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: status %d", resp.StatusCode)
	}
	loc, err := resp.Location()
	if err != nil || loc.Host != "tiersync.example" || loc.Path != "/shopify/callback" {
		t.Fatalf("authorize redirected to %v (%v)", loc, err)
	}
	return loc.Query()
}

func wantClass(t *testing.T, err error, class crm.Class, secrets ...string) *crm.Error {
	t.Helper()
	e, ok := errors.AsType[*crm.Error](err)
	if !ok || e.Class != class {
		t.Fatalf("error %v: want a %v *crm.Error", err, class)
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Fatalf("error %q shows a secret", err)
		}
	}
	return e
}

func TestTokenGrants(t *testing.T) {
	ctx := context.Background()
	type grant func(c *shopify.Client, f *shopifytest.Fake, t *testing.T) (shopify.Token, error)
	clientCredentials := func(secret string) grant {
		return func(c *shopify.Client, _ *shopifytest.Fake, _ *testing.T) (shopify.Token, error) {
			return c.ClientCredentialsToken(ctx, shop, orgApp, secret)
		}
	}
	exchange := func(secret string) grant {
		return func(c *shopify.Client, _ *shopifytest.Fake, t *testing.T) (shopify.Token, error) {
			return c.ExchangeCode(ctx, shop, publicApp, secret, install(t, c, "s1").Get("code"))
		}
	}
	// refresh gets a pair, then refreshes with what pick chooses of it.
	refresh := func(secret string, pick func(c *shopify.Client, first shopify.Token, t *testing.T) string) grant {
		return func(c *shopify.Client, _ *shopifytest.Fake, t *testing.T) (shopify.Token, error) {
			first, err := c.ExchangeCode(ctx, shop, publicApp, publicSecret, install(t, c, "s1").Get("code"))
			if err != nil {
				t.Fatal(err)
			}
			return c.RefreshToken(ctx, shop, publicApp, secret, pick(c, first, t))
		}
	}
	same := func(_ *shopify.Client, first shopify.Token, _ *testing.T) string { return first.RefreshToken }
	// rotated: the pair after first is used once more, which retires first.
	rotated := func(c *shopify.Client, first shopify.Token, t *testing.T) string {
		second, err := c.RefreshToken(ctx, shop, publicApp, publicSecret, first.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.RefreshToken(ctx, shop, publicApp, publicSecret, second.RefreshToken); err != nil {
			t.Fatal(err)
		}
		return first.RefreshToken
	}
	cases := []struct {
		name   string
		grant  grant
		fault  *shopifytest.Fault
		class  crm.Class // -1: success
		status int
		ttl    time.Duration
		rt     bool
	}{
		{"client credentials", clientCredentials(orgSecret), nil, -1, 0, 24 * time.Hour, false},
		{"client credentials, wrong secret", clientCredentials("wrong-secret-77"), nil, crm.Permanent, 400, 0, false},
		{"client credentials, 503", clientCredentials(orgSecret), &shopifytest.Fault{Kind: shopifytest.FaultStatus, Status: 503}, crm.Retryable, 503, 0, false},
		{"client credentials, 429", clientCredentials(orgSecret), &shopifytest.Fault{Kind: shopifytest.FaultStatus, Status: 429, RetryAfter: 7}, crm.Throttled, 429, 0, false},
		{"code exchange", exchange(publicSecret), nil, -1, 0, time.Hour, true},
		{"code exchange, wrong secret", exchange("wrong-secret-77"), nil, crm.Permanent, 400, 0, false},
		{"code exchange, 500", exchange(publicSecret), &shopifytest.Fault{Operation: "authorization_code", Kind: shopifytest.FaultStatus, Status: 500}, crm.Retryable, 500, 0, false},
		{"refresh", refresh(publicSecret, same), nil, -1, 0, time.Hour, true},
		{"refresh, wrong secret", refresh("wrong-secret-77", same), nil, crm.Permanent, 400, 0, false},
		{"refresh, rotated token", refresh(publicSecret, rotated), nil, crm.Permanent, 400, 0, false},
		{"refresh, unknown token", refresh(publicSecret, func(*shopify.Client, shopify.Token, *testing.T) string { return "shprt_nope" }), nil, crm.Permanent, 400, 0, false},
		{"refresh, 502", refresh(publicSecret, same), &shopifytest.Fault{Operation: "refresh_token", Kind: shopifytest.FaultStatus, Status: 502}, crm.Retryable, 502, 0, false},
		{"refresh, 429", refresh(publicSecret, same), &shopifytest.Fault{Operation: "refresh_token", Kind: shopifytest.FaultStatus, Status: 429, RetryAfter: 3}, crm.Throttled, 429, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake, client, clk, lim := setupAuth(t)
			if tc.fault != nil {
				fake.InjectOAuth(*tc.fault)
			}
			tok, err := tc.grant(client, fake, t)
			if lim.taken() != 0 {
				t.Errorf("token requests took %d rate-limit tokens: the token endpoint is not the Admin API", lim.taken())
			}
			if tc.class < 0 {
				if err != nil {
					t.Fatal(err)
				}
				if got := tok.ExpiresAt.Sub(clk.now()); got != tc.ttl || (tok.RefreshToken != "") != tc.rt ||
					tc.rt && tok.RefreshExpiresAt.Sub(clk.now()) != 90*24*time.Hour {
					t.Fatalf("token lasts %v, refresh token %t until %v", got, tok.RefreshToken != "", tok.RefreshExpiresAt)
				}
				// The token opens the shop's Admin API.
				if _, _, err := client.ProviderWith("c", shop, shopify.StaticToken(tok.AccessToken)).EnsureCustomer(ctx,
					crm.Customer{Email: "ann@example.com", FirstName: "Ann", LastName: "Lee"}); err != nil {
					t.Fatal(err)
				}
				if strings.Contains(tok.String(), tok.AccessToken) {
					t.Fatal("Token.String shows the token")
				}
				return
			}
			e := wantClass(t, err, tc.class, orgSecret, publicSecret, "wrong-secret-77", "shprt_")
			if e.Status != tc.status {
				t.Fatalf("status %d, want %d (%v)", e.Status, tc.status, err)
			}
			if tc.class == crm.Throttled && e.RetryAfter != time.Duration(tc.fault.RetryAfter)*time.Second {
				t.Fatalf("retry after %v", e.RetryAfter)
			}
		})
	}
}

func TestTokenRequestRefusesABadShop(t *testing.T) {
	_, client, _, _ := setupAuth(t)
	for _, s := range []string{"evil.test/x.myshopify.com", "napa.myshopify.com.evil.test", ""} {
		_, err := client.ClientCredentialsToken(context.Background(), s, orgApp, orgSecret)
		wantClass(t, err, crm.Permanent, orgSecret)
	}
}

// renewing is a Tokens that gets client credentials tokens, counting renewals; bad
// makes every renewal hand out a token Shopify refuses.
type renewing struct {
	client *shopify.Client
	mu     sync.Mutex
	token  string
	renews int
	bad    bool
}

func (r *renewing) Token(context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.token, nil
}

func (r *renewing) Renew(ctx context.Context, refused string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.renews++
	if r.bad {
		r.token = "shpat_also_refused"
		return r.token, nil
	}
	t, err := r.client.ClientCredentialsToken(ctx, shop, orgApp, orgSecret)
	if err != nil {
		return "", err
	}
	r.token = t.AccessToken
	return r.token, nil
}

func TestRenewOn401(t *testing.T) {
	ctx := context.Background()
	customer := crm.Customer{Email: "ann@example.com", FirstName: "Ann", LastName: "Lee"}
	t.Run("expired mid-drain: renewed once, the call succeeds", func(t *testing.T) {
		fake, client, clk, lim := setupAuth(t)
		first, err := client.ClientCredentialsToken(ctx, shop, orgApp, orgSecret)
		if err != nil {
			t.Fatal(err)
		}
		tokens := &renewing{client: client, token: first.AccessToken}
		p := client.ProviderWith("c", shop, tokens)
		if _, _, err := p.EnsureCustomer(ctx, customer); err != nil {
			t.Fatal(err)
		}
		clk.wait(ctx, 24*time.Hour) // the token expires between two rows
		before := len(fake.Requests())
		taken := lim.taken()
		if _, _, err := p.EnsureCustomer(ctx, customer); err != nil {
			t.Fatal(err)
		}
		if tokens.renews != 1 {
			t.Fatalf("renewed %d times", tokens.renews)
		}
		reqs := fake.Requests()[before:]
		if len(reqs) < 2 || reqs[0].Status != 401 || reqs[1].Status != 200 {
			t.Fatalf("requests after expiry: %+v", reqs)
		}
		if got := lim.taken() - taken; got != len(reqs) {
			t.Fatalf("%d requests took %d rate-limit tokens", len(reqs), got)
		}
	})
	t.Run("a second 401 after renewing holds the row, no loop", func(t *testing.T) {
		fake, client, _, _ := setupAuth(t)
		tokens := &renewing{client: client, token: "shpat_refused", bad: true}
		_, _, err := client.ProviderWith("c", shop, tokens).EnsureCustomer(ctx, customer)
		if e := wantClass(t, err, crm.Throttled); e.Status != 401 || e.RetryAfter <= 0 || !strings.Contains(err.Error(), "renewed a moment ago") {
			t.Fatalf("error %v", err)
		}
		if tokens.renews != 1 || len(fake.Requests()) != 2 {
			t.Fatalf("renewed %d times, %d requests", tokens.renews, len(fake.Requests()))
		}
	})
	t.Run("a static token is not renewed", func(t *testing.T) {
		fake, client, _, _ := setupAuth(t)
		_, _, err := client.Provider("c", shop, "shpat_revoked").EnsureCustomer(ctx, customer)
		if e := wantClass(t, err, crm.Permanent); e.Status != 401 || len(fake.Requests()) != 1 {
			t.Fatalf("error %v after %d requests", err, len(fake.Requests()))
		}
	})
	t.Run("uninstalled: the renewal's own refusal is the answer", func(t *testing.T) {
		fake, client, _, _ := setupAuth(t)
		first, err := client.ClientCredentialsToken(ctx, shop, orgApp, orgSecret)
		if err != nil {
			t.Fatal(err)
		}
		fake.Uninstall(shop, orgApp)
		tokens := &renewing{client: client, token: first.AccessToken}
		_, _, err = client.ProviderWith("c", shop, tokens).EnsureCustomer(ctx, customer)
		if e := wantClass(t, err, crm.Permanent, orgSecret); e.Op != "get client credentials token" || tokens.renews != 1 {
			t.Fatalf("error %v, %d renewals", err, tokens.renews)
		}
	})
}

// failingTokens fails Token with err.
type failingTokens struct{ err error }

func (f failingTokens) Token(context.Context) (string, error)         { return "", f.err }
func (f failingTokens) Renew(context.Context, string) (string, error) { return "", f.err }

func TestTokensErrors(t *testing.T) {
	_, client, _, _ := setupAuth(t)
	own := &crm.Error{Class: crm.Permanent, CRM: "shopify", Op: "refresh access token", Status: 400, Message: "invalid_grant"}
	cases := []struct {
		name  string
		err   error
		class crm.Class
		same  bool
	}{
		{"a crm.Error as it is", own, crm.Permanent, true},
		{"anything else retryable", errors.New("database is restarting"), crm.Retryable, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := client.ProviderWith("c", shop, failingTokens{tc.err}).EnsureCustomer(context.Background(),
				crm.Customer{Email: "ann@example.com"})
			wantClass(t, err, tc.class)
			if tc.same != (err == tc.err) || !errors.Is(err, tc.err) {
				t.Fatalf("error %v", err)
			}
		})
	}
}

func TestAuthorizeAndCallback(t *testing.T) {
	fake, client, _, _ := setupAuth(t)
	q := install(t, client, "nonce-123")
	for _, k := range []string{"code", "hmac", "host", "shop", "state", "timestamp"} {
		if q.Get(k) == "" {
			t.Fatalf("callback without %s: %v", k, q)
		}
	}
	if q.Get("shop") != shop || q.Get("state") != "nonce-123" {
		t.Fatalf("callback %v", q)
	}
	tamper := func(k, v string) url.Values {
		c := url.Values{}
		for k, vs := range q {
			c[k] = append([]string{}, vs...)
		}
		if v == "" {
			c.Del(k)
		} else {
			c.Set(k, v)
		}
		return c
	}
	twice := tamper("state", "")
	twice["state"] = []string{"nonce-123", "other"}
	cases := []struct {
		name   string
		q      url.Values
		secret string
		ok     bool
	}{
		{"as Shopify sent it", q, publicSecret, true},
		{"another app's secret", q, orgSecret, false},
		{"state changed", tamper("state", "nonce-999"), publicSecret, false},
		{"shop changed", tamper("shop", "other.myshopify.com"), publicSecret, false},
		{"parameter added", tamper("extra", "1"), publicSecret, false},
		{"timestamp removed", tamper("timestamp", ""), publicSecret, false},
		{"no hmac", tamper("hmac", ""), publicSecret, false},
		{"hmac not hex", tamper("hmac", "zz"), publicSecret, false},
		{"a parameter twice", twice, publicSecret, false},
		{"empty secret", q, "", false},
	}
	for _, tc := range cases {
		if got := shopify.VerifyQueryHMAC(tc.q, tc.secret); got != tc.ok {
			t.Errorf("%s: verified %t, want %t", tc.name, got, tc.ok)
		}
	}
	// The code is single-use.
	ctx := context.Background()
	if _, err := client.ExchangeCode(ctx, shop, publicApp, publicSecret, q.Get("code")); err != nil {
		t.Fatal(err)
	}
	_, err := client.ExchangeCode(ctx, shop, publicApp, publicSecret, q.Get("code"))
	wantClass(t, err, crm.Permanent, publicSecret, q.Get("code"))
	// An unknown app gets Shopify's error page, not a redirect.
	resp, err := http.Get(client.AuthorizeURL(shop, "nobody", []string{"read_customers"}, "https://x.example/cb", "s"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("unknown app: status %d", resp.StatusCode)
	}
	_ = fake
}

func TestAuthorizeURL(t *testing.T) {
	cases := []struct{ base, want string }{
		{"https://{shop}", "https://napa-cellars.myshopify.com/admin/oauth/authorize?client_id=app&redirect_uri=https%3A%2F%2Ft.example%2Fcb&scope=read_customers%2Cwrite_customers&state=s"},
		// One URL for every shop (a fake): the shop is named.
		{"http://127.0.0.1:9/", "http://127.0.0.1:9/admin/oauth/authorize?client_id=app&redirect_uri=https%3A%2F%2Ft.example%2Fcb&scope=read_customers%2Cwrite_customers&shop=napa-cellars.myshopify.com&state=s"},
	}
	for _, tc := range cases {
		c, err := shopify.New(shopify.Config{BaseURL: tc.base})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.AuthorizeURL(shop, "app", []string{"read_customers", "write_customers"}, "https://t.example/cb", "s"); got != tc.want {
			t.Errorf("%s: %s", tc.base, got)
		}
	}
}

func TestValidShop(t *testing.T) {
	cases := map[string]bool{
		"napa-cellars.myshopify.com":    true,
		"Napa0.myshopify.com":           true,
		"9.myshopify.com":               true,
		"-napa.myshopify.com":           false,
		".myshopify.com":                false,
		"napa_cellars.myshopify.com":    false,
		"napa.cellars.myshopify.com":    false,
		"napa.myshopify.com.evil.test":  false,
		"evil.test/x.myshopify.com":     false,
		"napa.myshopify.com/":           false,
		"https://napa.myshopify.com":    false,
		"napa.myshopify.com:443":        false,
		"napa.shopify.com":              false,
		"napä.myshopify.com":            false,
		"":                              false,
		"napa.myshopify.com\x00":        false,
		"napa myshopify.com":            false,
		"napa.myshopify.com\n":          false,
		"napa-.myshopify.com":           true, // the documented pattern allows it
		"xn--npa-qla.myshopify.com":     true,
		"napa.MYSHOPIFY.com":            false,
		"napa..myshopify.com":           false,
		"napa%2e.myshopify.com":         false,
		"napa.myshopify.com.":           false,
		"napa@evil.test.myshopify.com":  false,
		"evil.test#.myshopify.com":      false,
		"evil.test?.myshopify.com":      false,
		"evil.test\\.myshopify.com":     false,
		"[::1].myshopify.com":           false,
		"127.0.0.1.myshopify.com":       false,
		"localhost:1/.myshopify.com":    false,
		"napa.myshopify.com;evil.test":  false,
		"napa.myshopify.com evil.test":  false,
		"napa.myshopify.com\tevil.test": false,
	}
	for s, want := range cases {
		if got := shopify.ValidShop(s); got != want {
			t.Errorf("ValidShop(%q) = %t", s, got)
		}
	}
}
