package api_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/api"
	"tiersync/internal/crm"
	"tiersync/internal/crm/shopify"
	"tiersync/internal/crm/shopify/shopifytest"
	"tiersync/internal/secretbox"
	"tiersync/internal/shopifyapp"
)

// noFollow is a client that shows redirects instead of following them.
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	resp, err := noFollow.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// The deployment's app installed by a merchant: /shopify/install redirects to the shop's
// authorize page, the callback (after the merchant approves) is checked, the code becomes
// expiring tokens, the shop's client is made and its webhooks subscribed. A tampered or
// replayed callback is refused and makes nothing; app/uninstalled holds the client's rows
// and deletes its tokens; a reinstall links the same client again.
func TestShopifyInstallUninstallReinstall(t *testing.T) {
	t.Parallel()
	const (
		shop      = "napa.myshopify.com"
		publicURL = "https://tiersync.example"
	)
	app := shopifyapp.App{ClientID: "deployment-app", ClientSecret: "deployment-app-secret", Scopes: []string{"read_customers", "write_customers", "read_orders"}}
	fake, fakeURL := shopifytest.Start(t, shopifytest.Options{})
	fake.AddApp(shopifytest.App{ClientID: app.ClientID, ClientSecret: app.ClientSecret})
	client, err := shopify.New(shopify.Config{BaseURL: fakeURL, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var shops *shopifyapp.Store
	h := newHarness(t, func(o *api.Options, pool *pgxpool.Pool) {
		box, err := secretbox.New(bytes.Repeat([]byte{9}, 32))
		if err != nil {
			t.Fatal(err)
		}
		shops = shopifyapp.New(shopifyapp.Config{Pool: pool, Box: box, Grants: client, App: app})
		o.Shopify, o.PublicURL = shops, publicURL
	})

	// install walks the flow up to the callback and returns the callback's query.
	install := func() url.Values {
		t.Helper()
		resp, body := get(t, h.url+"/shopify/install?shop="+shop)
		to := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(to, fakeURL+"/admin/oauth/authorize?") ||
			!strings.Contains(to, "client_id="+app.ClientID) || !strings.Contains(to, "state=") {
			t.Fatalf("install: %d to %q (%s)", resp.StatusCode, to, body)
		}
		resp, body = get(t, to) // the merchant approves
		back, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || resp.StatusCode != http.StatusFound || !strings.HasPrefix(back.String(), publicURL+"/shopify/callback?") {
			t.Fatalf("authorize: %d to %q (%s)", resp.StatusCode, back, body)
		}
		return back.Query()
	}
	callback := func(q url.Values) (int, string) {
		t.Helper()
		resp, body := get(t, h.url+"/shopify/callback?"+q.Encode())
		return resp.StatusCode, body
	}
	state := func() (clients int, auth, st string, token, refresh bool, expires *time.Time) {
		t.Helper()
		err := h.pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM clients), s.auth, s.state,
			s.access_token_enc IS NOT NULL, s.refresh_token_enc IS NOT NULL, s.access_expires_at
			FROM shopify_connections s WHERE s.shop = $1`, shop).Scan(&clients, &auth, &st, &token, &refresh, &expires)
		if err != nil {
			t.Fatal(err)
		}
		return
	}

	// Tampered callbacks: each refused with 400, nothing made.
	q := install()
	for name, tamper := range map[string]func(url.Values){
		"another shop":  func(v url.Values) { v.Set("shop", "other.myshopify.com") },
		"wrong hmac":    func(v url.Values) { v.Set("hmac", strings.Repeat("0", 64)) },
		"forged state":  func(v url.Values) { v.Set("state", "eyJzIjoibmFwYS5teXNob3BpZnkuY29tIiwiZSI6OTk5OTk5OTk5OTl9.AAAA") },
		"no state":      func(v url.Values) { v.Del("state") },
		"not a shop":    func(v url.Values) { v.Set("shop", "napa.example.com") },
		"old timestamp": func(v url.Values) { v.Set("timestamp", "1000000000") },
	} {
		v := url.Values{}
		for k, x := range q {
			v[k] = append([]string(nil), x...)
		}
		tamper(v)
		if status, body := callback(v); status != 400 {
			t.Fatalf("%s: %d %s, want 400", name, status, body)
		}
	}
	if n := h.count("clients"); n != 0 {
		t.Fatalf("refused callbacks made %d clients", n)
	}

	// The genuine callback makes the client, stores expiring tokens, subscribes webhooks.
	if status, body := callback(q); status != 200 || !strings.Contains(body, "connected to "+shop) {
		t.Fatalf("callback: %d %s", status, body)
	}
	clients, auth, st, token, refresh, expires := state()
	if clients != 1 || auth != "oauth" || st != "connected" || !token || !refresh || expires == nil {
		t.Fatalf("after install: %d clients, %s %s token=%v refresh=%v expires=%v", clients, auth, st, token, refresh, expires)
	}
	subs := fake.Subscriptions(shop)
	if len(subs) != 3 {
		t.Fatalf("subscriptions %+v, want orders/paid, orders/create, app/uninstalled", subs)
	}
	for _, sub := range subs {
		if sub.URI != publicURL+"/webhooks/shopify" {
			t.Fatalf("subscription %+v points elsewhere", sub)
		}
	}
	var clientID string
	if err := h.pool.QueryRow(context.Background(), `SELECT client_id FROM shopify_connections WHERE shop = $1`, shop).Scan(&clientID); err != nil {
		t.Fatal(err)
	}
	// On demand again: nothing new.
	if status, body := h.do("POST", "/api/clients/"+clientID+"/shopify/webhooks", ""); status != 200 || len(body["created"].([]any)) != 0 {
		t.Fatalf("register again: %d %v", status, body)
	}
	// The same callback again: Shopify takes a code once.
	if status, body := callback(q); status != http.StatusBadGateway {
		t.Fatalf("replayed callback: %d %s, want 502", status, body)
	}

	// Uninstalled: the connection is marked, its tokens deleted, its rows held.
	raw := []byte(`{"id":690933842,"name":"Napa","myshopify_domain":"` + shop + `","domain":"napa.example"}`)
	headers, err := fake.SignedWebhook(shop, app.ClientID, "app/uninstalled", raw)
	if err != nil {
		t.Fatal(err)
	}
	hs := map[string]string{}
	for k := range headers {
		hs[k] = headers.Get(k)
	}
	if status, body := h.doWith("POST", "/webhooks/shopify", string(raw), hs); status != 200 || body["status"] != "accepted" {
		t.Fatalf("app/uninstalled: %d %v", status, body)
	}
	if _, _, st, token, refresh, _ := state(); st != "uninstalled" || token || refresh {
		t.Fatalf("after uninstall: %s token=%v refresh=%v", st, token, refresh)
	}
	_, err = shops.Tokens(clientID).Token(context.Background())
	if e, ok := err.(*crm.Error); !ok || e.Class != crm.Throttled || !strings.Contains(e.Message, "uninstalled") {
		t.Fatalf("token of an uninstalled shop: %v, want a throttled hold", err)
	}

	// Reinstalled: the same client, connected again.
	if status, body := callback(install()); status != 200 {
		t.Fatalf("reinstall: %d %s", status, body)
	}
	if clients, _, st, token, _, _ := state(); clients != 1 || st != "connected" || !token {
		t.Fatalf("after reinstall: %d clients, %s token=%v", clients, st, token)
	}
	if _, err := shops.Tokens(clientID).Token(context.Background()); err != nil {
		t.Fatal(err)
	}
}
