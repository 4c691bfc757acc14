package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/crm/commerce7/c7test"
	"tiersync/internal/crm/shopify/shopifytest"
	"tiersync/internal/db/dbtest"
	"tiersync/internal/membership"
	"tiersync/internal/secretbox"
	"tiersync/internal/shopifyapp"
	"tiersync/internal/testfactory"
)

// TestClientsCheckAndShopifyWebhooks runs `clients check` against the fake Commerce7 and
// Shopify (exit 0 when the CRM answers, 1 with why when not, 2 without an id) and
// `shopify webhooks` (subscribes the shop at PUBLIC_URL once; again: nothing new).
func TestClientsCheckAndShopifyWebhooks(t *testing.T) {
	t.Parallel()
	const key = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU="
	const shop, token = "vino.myshopify.com", "shpat_vino"
	_, c7URL := c7test.Start(t, c7test.Options{AppID: "app", AppSecret: "key", Tenants: []string{"napa"}, RateLimit: -1})
	shopFake, shopURL := shopifytest.Start(t, shopifytest.Options{Shops: map[string]string{shop: token}})
	url := dbtest.NewURL(t)
	pool := openPool(t, url)
	napa := testfactory.Client(t, pool, testfactory.ClientOpts{Name: "Napa", Tenant: "napa", RateLimitPerMinute: 600})
	ghost := testfactory.Client(t, pool, testfactory.ClientOpts{Name: "Ghost", Tenant: "ghost", RateLimitPerMinute: 600})
	raw, _ := base64.StdEncoding.DecodeString(key)
	box, err := secretbox.New(raw)
	if err != nil {
		t.Fatal(err)
	}
	shops := shopifyapp.New(shopifyapp.Config{Pool: pool, Box: box})
	auth, tok, hook := shopifyapp.AuthToken, token, "whsec_vino"
	vino, err := membership.NewStore(pool, box).CreateClient(context.Background(), membership.NewClient{Name: "Vino",
		CRMType: membership.CRMShopify, Tenant: shop, Connect: func(ctx context.Context, tx pgx.Tx, id string) error {
			return shops.Create(ctx, tx, id, shop, shopifyapp.NewConnection{Auth: &auth, AccessToken: &tok, WebhookSecret: &hook})
		}})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": url, "COMMERCE7_API_URL": c7URL, "COMMERCE7_APP_ID": "app", "COMMERCE7_KEY": "key",
		"TIERSYNC_SECRET_KEY": key, "SHOPIFY_API_URL": shopURL, "PUBLIC_URL": "https://tiersync.example", "LOG_LEVEL": "error"}

	cases := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"a commerce7 client that answers", []string{"clients", "check", napa}, 0, "ok: Napa (commerce7 napa) answered"},
		{"a tenant commerce7 refuses", []string{"clients", "check", ghost}, 1, "failed: Ghost (commerce7 ghost): commerce7: check connection: HTTP 401"},
		{"a shopify client, as JSON", []string{"clients", "check", vino.ID, "--json"}, 0, `"ok": true`},
		{"no id", []string{"clients", "check"}, 2, ""},
		{"an unknown client", []string{"clients", "check", "00000000-0000-4000-8000-000000000000"}, 1, ""},
		{"webhooks of a commerce7 client", []string{"shopify", "webhooks", napa}, 1, ""},
		{"webhooks", []string{"shopify", "webhooks", vino.ID}, 0, "vino.myshopify.com: subscribed orders/paid, orders/create, app/uninstalled"},
		{"webhooks again", []string{"shopify", "webhooks", vino.ID}, 0, "every webhook was subscribed already"},
	}
	for _, c := range cases {
		code, out, errOut := runCmd(t, env, c.args...)
		if code != c.code || !strings.Contains(out, c.out) {
			t.Fatalf("%s: %v: exit %d, want %d with %q\n%s%s", c.name, c.args, code, c.code, c.out, out, errOut)
		}
		if strings.Contains(c.name, "JSON") {
			var got map[string]any
			if err := json.Unmarshal([]byte(out), &got); err != nil || got["client_id"] != vino.ID {
				t.Fatalf("%s: %q (%v)", c.name, out, err)
			}
		}
	}
	subs := shopFake.Subscriptions(shop)
	if len(subs) != 3 {
		t.Fatalf("subscriptions %+v, want three", subs)
	}
	for _, s := range subs {
		if s.URI != "https://tiersync.example/webhooks/shopify" {
			t.Fatalf("subscription %+v points elsewhere", s)
		}
	}
}
