package shopifytest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	org, orgSecret = "org-app", "org-secret"
	pub, pubSecret = "pub-app", "pub-secret"
)

// tokenCall posts a token request, as a form or as JSON.
func tokenCall(t *testing.T, base string, asJSON bool, params map[string]string) (int, map[string]any) {
	t.Helper()
	var body io.Reader
	ct := "application/x-www-form-urlencoded"
	if asJSON {
		b, _ := json.Marshal(params)
		body, ct = bytes.NewReader(b), "application/json"
	} else {
		form := url.Values{}
		for k, v := range params {
			form.Set(k, v)
		}
		body = strings.NewReader(form.Encode())
	}
	resp, err := http.Post(base+"/admin/oauth/access_token", ct, body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

func authFake(t *testing.T) (*Fake, string, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	f, base := Start(t, Options{Shops: map[string]string{shop: token}, Now: clk.now})
	f.AddApp(App{ClientID: org, ClientSecret: orgSecret, Org: true})
	f.AddApp(App{ClientID: pub, ClientSecret: pubSecret})
	f.Install(shop, org)
	return f, base, clk
}

// authorize approves the public app on the shop and returns the callback query.
func authorize(t *testing.T, base string) url.Values {
	t.Helper()
	q := url.Values{"client_id": {pub}, "scope": {"read_customers"}, "redirect_uri": {"https://app.example/cb"}, "state": {"s"}, "shop": {shop}}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(base + "/admin/oauth/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if resp.StatusCode != 302 || err != nil {
		t.Fatalf("authorize: %d %v", resp.StatusCode, err)
	}
	return loc.Query()
}

func TestTokenEndpoint(t *testing.T) {
	ccParams := map[string]string{"grant_type": "client_credentials", "client_id": org, "client_secret": orgSecret}
	cases := []struct {
		name   string
		setup  func(f *Fake)
		params map[string]string
		asJSON bool
		status int
		err    string
	}{
		{"client credentials as a form", nil, ccParams, false, 200, ""},
		{"client credentials as JSON", nil, ccParams, true, 200, ""},
		{"wrong secret", nil, map[string]string{"grant_type": "client_credentials", "client_id": org, "client_secret": "x"}, false, 400, "invalid_client"},
		{"unknown app", nil, map[string]string{"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"}, false, 400, "invalid_client"},
		{"not an Org app", func(f *Fake) { f.Install(shop, pub) },
			map[string]string{"grant_type": "client_credentials", "client_id": pub, "client_secret": pubSecret, "shop": shop}, false, 400, "unauthorized_client"},
		{"uninstalled", func(f *Fake) { f.Uninstall(shop, org) }, map[string]string{"grant_type": "client_credentials", "client_id": org, "client_secret": orgSecret, "shop": shop}, false, 400, "invalid_request"},
		{"unknown grant", nil, map[string]string{"grant_type": "password", "client_id": org, "client_secret": orgSecret}, false, 400, "unsupported_grant_type"},
		{"unknown code", nil, map[string]string{"client_id": org, "client_secret": orgSecret, "code": "nope"}, false, 400, "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, base, _ := authFake(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			status, body := tokenCall(t, base, tc.asJSON, tc.params)
			if status != tc.status || tc.err != "" && body["error"] != tc.err {
				t.Fatalf("%d %v", status, body)
			}
			if status == 200 {
				if body["expires_in"] != float64(86400) || body["refresh_token"] != nil {
					t.Fatalf("client credentials answer %v", body)
				}
				if g, _ := post(t, context.Background(), base, body["access_token"].(string), `{ customers(first: 1) { nodes { id } } }`, nil); g.status != 200 {
					t.Fatalf("the token does not open the shop: %d", g.status)
				}
			}
		})
	}
}

func TestIssuedTokensExpireAndRotate(t *testing.T) {
	ctx := context.Background()
	query := `{ customers(first: 1) { nodes { id } } }`
	f, base, clk := authFake(t)
	cb := authorize(t, base)
	status, pair := tokenCall(t, base, false, map[string]string{"client_id": pub, "client_secret": pubSecret, "code": cb.Get("code"), "expiring": "1"})
	if status != 200 || pair["expires_in"] != float64(3600) || pair["refresh_token_expires_in"] != float64(90*24*3600) {
		t.Fatalf("%d %v", status, pair)
	}
	if status, _ := tokenCall(t, base, false, map[string]string{"client_id": pub, "client_secret": pubSecret, "code": cb.Get("code")}); status != 400 {
		t.Fatalf("a code used twice: %d", status)
	}
	access := pair["access_token"].(string)
	if g, _ := post(t, ctx, base, access, query, nil); g.status != 200 {
		t.Fatalf("fresh token: %d", g.status)
	}
	clk.add(time.Hour)
	if g, _ := post(t, ctx, base, access, query, nil); g.status != 401 || !strings.Contains(g.body["errors"].(string), "Invalid API key or access token") {
		t.Fatalf("expired token: %d %v", g.status, g.body)
	}
	refresh := func(rt string) (int, map[string]any) {
		return tokenCall(t, base, true, map[string]string{"grant_type": "refresh_token", "client_id": pub, "client_secret": pubSecret, "refresh_token": rt})
	}
	rt1 := pair["refresh_token"].(string)
	status, second := refresh(rt1)
	if status != 200 || second["refresh_token"] == rt1 {
		t.Fatalf("refresh: %d %v", status, second)
	}
	// The answer was lost: the same refresh token works again while its replacement is unused.
	status, third := refresh(rt1)
	if status != 200 {
		t.Fatalf("retried refresh: %d %v", status, third)
	}
	if status, _ := refresh(second["refresh_token"].(string)); status != 400 {
		t.Fatalf("a replacement superseded by a retry: %d", status)
	}
	// Using the replacement retires the old one.
	if status, _ := refresh(third["refresh_token"].(string)); status != 200 {
		t.Fatalf("refresh with the replacement: %d", status)
	}
	if status, body := refresh(rt1); status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("rotated refresh token: %d %v", status, body)
	}
	// Uninstalling kills every token of the app at once; static tokens live on.
	cb = authorize(t, base)
	_, pair = tokenCall(t, base, false, map[string]string{"client_id": pub, "client_secret": pubSecret, "code": cb.Get("code"), "expiring": "1"})
	f.Uninstall(shop, pub)
	if g, _ := post(t, ctx, base, pair["access_token"].(string), query, nil); g.status != 401 {
		t.Fatalf("uninstalled app's token: %d", g.status)
	}
	if status, _ := refresh(pair["refresh_token"].(string)); status != 400 {
		t.Fatalf("uninstalled app's refresh token: %d", status)
	}
	if g, _ := post(t, ctx, base, token, query, nil); g.status != 200 {
		t.Fatalf("static token: %d", g.status)
	}
	// A non-expiring offline token (no expiring=1) never expires.
	cb = authorize(t, base)
	_, forever := tokenCall(t, base, false, map[string]string{"client_id": pub, "client_secret": pubSecret, "code": cb.Get("code")})
	clk.add(365 * 24 * time.Hour)
	if forever["expires_in"] != nil || forever["refresh_token"] != nil {
		t.Fatalf("non-expiring answer %v", forever)
	}
	if g, _ := post(t, ctx, base, forever["access_token"].(string), query, nil); g.status != 200 {
		t.Fatalf("non-expiring token: %d", g.status)
	}
	if reqs := f.TokenRequests(); len(reqs) == 0 || reqs[0].Grant != "authorization_code" || reqs[0].Shop != shop {
		t.Fatalf("token log %+v", reqs)
	}
}

func TestAuthorizeSignsTheCallback(t *testing.T) {
	_, base, _ := authFake(t)
	q := authorize(t, base)
	got := q.Get("hmac")
	// Recomputed by hand here, independently of signQuery.
	msg := "code=" + q.Get("code") + "&host=" + q.Get("host") + "&shop=" + shop + "&state=s&timestamp=" + q.Get("timestamp")
	m := hmac.New(sha256.New, []byte(pubSecret))
	m.Write([]byte(msg))
	if want := hexOf(m.Sum(nil)); got != want {
		t.Fatalf("hmac %s, want %s", got, want)
	}
	if resp, err := http.Get(base + "/admin/oauth/authorize?client_id=nobody&redirect_uri=https://a.example/cb&shop=" + shop); err != nil || resp.StatusCode != 400 {
		t.Fatalf("unknown app: %v %v", resp, err)
	}
	if resp, err := http.Get(base + "/admin/oauth/authorize?client_id=" + pub + "&redirect_uri=https://a.example/cb"); err != nil || resp.StatusCode != 400 {
		t.Fatalf("no shop: %v %v", resp, err)
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestWebhooksAndControl(t *testing.T) {
	f, base, _ := authFake(t)
	var got *http.Request
	var gotBody []byte
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		gotBody, _ = io.ReadAll(r.Body)
		w.WriteHeader(200)
	}))
	defer sink.Close()

	ctrl := func(path string, body any) int {
		b, _ := json.Marshal(body)
		resp, err := http.Post(base+"/_fake/shopify/"+path, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := ctrl("apps", map[string]any{"client_id": "dev-app", "client_secret": "dev-secret", "org": true}); s != 204 {
		t.Fatalf("apps: %d", s)
	}
	if s := ctrl("installs", map[string]any{"shop": "sonoma.myshopify.com", "client_id": "dev-app"}); s != 204 {
		t.Fatalf("installs: %d", s)
	}
	if s := ctrl("installs", map[string]any{"shop": "sonoma.myshopify.com", "client_id": "nobody"}); s != 404 {
		t.Fatalf("install of an unknown app: %d", s)
	}
	status, body := tokenCall(t, base, false, map[string]string{"grant_type": "client_credentials", "client_id": "dev-app", "client_secret": "dev-secret"})
	if status != 200 {
		t.Fatalf("token for the one shop the app is on: %d %v", status, body)
	}
	if s := ctrl("uninstalls", map[string]any{"shop": "sonoma.myshopify.com", "client_id": "dev-app", "webhook_url": sink.URL}); s != 200 {
		t.Fatalf("uninstalls: %d", s)
	}
	if got == nil || got.Header.Get("X-Shopify-Topic") != "app/uninstalled" || got.Header.Get("X-Shopify-Shop-Domain") != "sonoma.myshopify.com" {
		t.Fatalf("app/uninstalled not delivered: %v", got)
	}
	m := hmac.New(sha256.New, []byte("dev-secret"))
	m.Write(gotBody)
	if got.Header.Get("X-Shopify-Hmac-Sha256") != base64.StdEncoding.EncodeToString(m.Sum(nil)) {
		t.Fatal("webhook signature does not verify")
	}
	for _, h := range []string{"X-Shopify-Webhook-Id", "X-Shopify-Event-Id", "X-Shopify-API-Version", "X-Shopify-Triggered-At"} {
		if got.Header.Get(h) == "" {
			t.Fatalf("webhook without %s", h)
		}
	}
	if g, _ := post(t, context.Background(), base, body["access_token"].(string), `{ customers(first: 1) { nodes { id } } }`, nil); g.status != 401 {
		t.Fatalf("token after uninstall: %d", g.status)
	}
	if _, err := f.SignedWebhook(shop, "nobody", "orders/paid", nil); err == nil {
		t.Fatal("signed a webhook for an unknown app")
	}
}
