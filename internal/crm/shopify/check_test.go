package shopify_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"tiersync/internal/crm"
	"tiersync/internal/crm/shopify"
)

// TestCheck: one `query { shop { name } }` (cost 1) through the provider's tokens and one
// rate token per request; an expired token is renewed once on the way; a refused token,
// or a shop that cannot give one, comes back as the error, never a success.
func TestCheck(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		// tokens is the provider's Tokens, given the fake's client and clock.
		tokens   func(t *testing.T, client *shopify.Client, clk *clock) shopify.Tokens
		requests []int // the statuses Shopify answered, in order
		renews   int
		class    crm.Class
		msg      string
	}{
		{name: "a good token", requests: []int{200},
			tokens: func(t *testing.T, client *shopify.Client, _ *clock) shopify.Tokens {
				tok, err := client.ClientCredentialsToken(ctx, shop, orgApp, orgSecret)
				if err != nil {
					t.Fatal(err)
				}
				return shopify.StaticToken(tok.AccessToken)
			}},
		{name: "an expired token is renewed once", requests: []int{401, 200}, renews: 1,
			tokens: func(t *testing.T, client *shopify.Client, clk *clock) shopify.Tokens {
				tok, err := client.ClientCredentialsToken(ctx, shop, orgApp, orgSecret)
				if err != nil {
					t.Fatal(err)
				}
				clk.wait(ctx, 25*time.Hour)
				return &renewing{client: client, token: tok.AccessToken}
			}},
		{name: "a revoked static token", requests: []int{401}, class: crm.Permanent, msg: "Invalid API key or access token",
			tokens: func(*testing.T, *shopify.Client, *clock) shopify.Tokens { return shopify.StaticToken("shpat_revoked") }},
		{name: "no token to be had", requests: nil, class: crm.Throttled, msg: "the app is not installed",
			tokens: func(*testing.T, *shopify.Client, *clock) shopify.Tokens {
				return failingTokens{err: &crm.Error{Class: crm.Throttled, CRM: "shopify", Op: "get access token",
					Message: "the app is not installed on the shop yet"}}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake, client, clk, lim := setupAuth(t)
			tokens := c.tokens(t, client, clk)
			before := len(fake.Requests())
			err := client.ProviderWith("c", shop, tokens).Check(ctx)
			if c.msg == "" && err != nil {
				t.Fatalf("check: %v", err)
			}
			if c.msg != "" {
				var e *crm.Error
				if !errors.As(err, &e) || e.Class != c.class || !strings.Contains(e.Error(), c.msg) {
					t.Fatalf("check: %v, want a %v error saying %q", err, c.class, c.msg)
				}
			}
			reqs := fake.Requests()[before:]
			if len(reqs) != len(c.requests) || lim.taken() != len(c.requests) {
				t.Fatalf("%d requests %+v, %d rate tokens, want %d of each", len(reqs), reqs, lim.taken(), len(c.requests))
			}
			for i, r := range reqs {
				if r.Status != c.requests[i] || (r.Status == 200 && (r.Operation != "shop" || r.Cost != 1)) {
					t.Fatalf("request %d: %+v, want status %d of the shop query at cost 1", i, r, c.requests[i])
				}
			}
			if r, ok := tokens.(*renewing); ok && r.renews != c.renews {
				t.Fatalf("renewed %d times, want %d", r.renews, c.renews)
			}
		})
	}
}
