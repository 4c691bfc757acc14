package api_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/api"
	"tiersync/internal/secretbox"
	"tiersync/internal/shopifyapp"
)

// Each Shopify app signs its webhooks with its own client secret: a shop's webhooks
// verify with the secret of the way it is connected (the deployment's app for oauth, the
// winery's app for client_credentials, the stored webhook secret for a static token), and
// a body signed with another app's secret is refused (401) and writes nothing.
func TestShopifyWebhooksAreVerifiedPerApp(t *testing.T) {
	t.Parallel()
	app := shopifyapp.App{ClientID: "deployment-app", ClientSecret: "deployment-app-secret"}
	h := newHarness(t, func(o *api.Options, pool *pgxpool.Pool) {
		box, err := secretbox.New(bytes.Repeat([]byte{9}, 32))
		if err != nil {
			t.Fatal(err)
		}
		o.Shopify = shopifyapp.New(shopifyapp.Config{Pool: pool, Box: box, App: app})
	})
	shops := []struct {
		shop, body, secret string
	}{
		{"static.myshopify.com", `"shopify_auth":"token","shopify_access_token":"shpat_s","shopify_webhook_secret":"static-secret"`, "static-secret"},
		{"own-app.myshopify.com", `"shopify_auth":"client_credentials","shopify_client_id":"winery-app","shopify_client_secret":"winery-app-secret"`, "winery-app-secret"},
		{"installed.myshopify.com", `"shopify_auth":"oauth"`, app.ClientSecret},
	}
	for _, s := range shops {
		status, c := h.do("POST", "/api/clients", `{"name":"W","crm_type":"shopify","tenant":"`+s.shop+`",`+s.body+`}`)
		if status != 201 {
			t.Fatalf("create %s: %d %v", s.shop, status, c)
		}
		if status, tier := h.do("POST", "/api/clients/"+c["id"].(string)+"/tiers",
			`{"name":"Gold","rank":1,"duration_months":12,"min_purchase_cents":5000,"shopify_tag":"gold"}`); status != 201 {
			t.Fatalf("tier: %d %v", status, tier)
		}
	}
	signed := func(shop, secret, body string, event int) map[string]string {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(body))
		return map[string]string{"X-Shopify-Hmac-Sha256": base64.StdEncoding.EncodeToString(mac.Sum(nil)),
			"X-Shopify-Shop-Domain": shop, "X-Shopify-Topic": "orders/paid", "X-Shopify-Event-Id": fmt.Sprint(event)}
	}
	count := func() int { return h.count("webhook_events") }
	for i, s := range shops {
		body := shopifyBody(9000+i, "paid", "60.00", "2026-11-20T10:05:00Z")
		for j, other := range shops {
			if j == i {
				continue
			}
			before := count()
			if status, ans := h.doWith("POST", "/webhooks/shopify", body, signed(s.shop, other.secret, body, 100*i+j)); status != 401 {
				t.Fatalf("%s signed with %s's secret: %d %v, want 401", s.shop, other.shop, status, ans)
			}
			if count() != before {
				t.Fatalf("%s: a refused webhook wrote an event", s.shop)
			}
		}
		if status, ans := h.doWith("POST", "/webhooks/shopify", body, signed(s.shop, s.secret, body, 100*i+99)); status != 200 || ans["status"] != "accepted" {
			t.Fatalf("%s signed with its own app's secret: %d %v", s.shop, status, ans)
		}
	}
	body := shopifyBody(9100, "paid", "60.00", "")
	if status, ans := h.doWith("POST", "/webhooks/shopify", body, signed("nobody.myshopify.com", app.ClientSecret, body, 1)); status != 404 {
		t.Fatalf("unknown shop: %d %v, want 404", status, ans)
	}
}
