package api_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/api"
	"tiersync/internal/crm/commerce7"
	"tiersync/internal/crm/commerce7/c7test"
	"tiersync/internal/crm/shopify"
	"tiersync/internal/crm/shopify/shopifytest"
	"tiersync/internal/membership"
	"tiersync/internal/queue"
	"tiersync/internal/secretbox"
	"tiersync/internal/shopifyapp"
)

// crmHarness is the API with real CRM clients pointed at the fakes over HTTP, wired for
// the check as the composition root wires it (app.Core.CheckClient): Commerce7's provider,
// Shopify's through the connection's tokens, both taking their tokens from the queue's
// rate buckets.
type crmHarness struct {
	*harness
	c7    *c7test.Fake
	shop  *shopifytest.Fake
	shops *shopifyapp.Store
	logs  *lockedBuffer
}

const (
	c7App, c7Key         = "c7-app", "c7-key"
	orgApp, orgAppSecret = "winery-app", "winery-app-secret"
	deployApp            = "deployment-app"
)

func newCRMHarness(t *testing.T) *crmHarness {
	t.Helper()
	c7, c7URL := c7test.Start(t, c7test.Options{AppID: c7App, AppSecret: c7Key, Tenants: []string{"napa"}, RateLimit: -1})
	shop, shopURL := shopifytest.Start(t, shopifytest.Options{})
	shop.AddApp(shopifytest.App{ClientID: orgApp, ClientSecret: orgAppSecret, Org: true})
	shop.AddApp(shopifytest.App{ClientID: deployApp, ClientSecret: "deployment-secret"})
	h := &crmHarness{c7: c7, shop: shop, logs: &lockedBuffer{}}
	h.harness = newHarness(t, func(o *api.Options, pool *pgxpool.Pool) {
		limiter := queue.NewLimiter(pool, nil)
		c7c, err := commerce7.New(commerce7.Config{BaseURL: c7URL, AppID: c7App, Key: c7Key, Timeout: 5 * time.Second, Limiter: limiter})
		if err != nil {
			t.Fatal(err)
		}
		sh, err := shopify.New(shopify.Config{BaseURL: shopURL, Timeout: 5 * time.Second, Limiter: limiter})
		if err != nil {
			t.Fatal(err)
		}
		box, err := secretbox.New(bytes.Repeat([]byte{9}, 32))
		if err != nil {
			t.Fatal(err)
		}
		h.shops = shopifyapp.New(shopifyapp.Config{Pool: pool, Box: box, Grants: sh,
			App: shopifyapp.App{ClientID: deployApp, ClientSecret: "deployment-secret", Scopes: []string{"read_customers"}}})
		o.Shopify = h.shops
		o.Logger = slog.New(slog.NewTextHandler(h.logs, nil))
		o.Check = func(ctx context.Context, c membership.Client) error {
			if c.CRMType == membership.CRMCommerce7 {
				return c7c.Provider(c.ID, c.Tenant).Check(ctx)
			}
			return sh.ProviderWith(c.ID, c.Tenant, h.shops.Tokens(c.ID)).Check(ctx)
		}
	})
	return h
}

func (h *crmHarness) create(body string) map[string]any {
	h.t.Helper()
	status, c := h.do("POST", "/api/clients", body)
	if status != 201 {
		h.t.Fatalf("create %s: %d %v", body, status, c)
	}
	return c
}

// bucket is a client's rate bucket: its rate and the tokens it holds now.
func (h *crmHarness) bucket(clientID string) (perMinute int, tokens float64) {
	h.t.Helper()
	if err := h.pool.QueryRow(context.Background(), `SELECT per_minute, tokens FROM crm_rate_buckets WHERE rate_key = $1`,
		clientID).Scan(&perMinute, &tokens); err != nil {
		h.t.Fatal(err)
	}
	return perMinute, tokens
}

// TestPatchClient: name and rate change together with the queue's bucket; a Commerce7
// rotation answers the new webhook pair once; every refused request says what is wrong
// and writes nothing.
func TestPatchClient(t *testing.T) {
	t.Parallel()
	h := newCRMHarness(t)
	napa := h.create(`{"name":"Napa","crm_type":"commerce7","tenant":"napa"}`)
	vino := h.create(`{"name":"Vino","crm_type":"shopify","tenant":"vino.myshopify.com","shopify_access_token":"shpat_x","shopify_webhook_secret":"whsec_x"}`)
	id := napa["id"].(string)
	path := "/api/clients/" + id

	status, got := h.do("PATCH", path, `{"name":"  Napa Cellars ","rate_limit_per_minute":240}`)
	if status != 200 || got["name"] != "Napa Cellars" || got["rate_limit_per_minute"] != 240.0 || got["connection"] != nil {
		t.Fatalf("patch name and rate: %d %v", status, got)
	}
	if _, has := got["webhook_password"]; has {
		t.Fatalf("a patch without rotation shows credentials: %v", got)
	}
	if rate, _ := h.bucket(id); rate != 240 {
		t.Fatalf("the bucket's rate is %d after the patch, want 240", rate)
	}
	if status, got := h.do("PATCH", path, `{"currency":"cad"}`); status != 200 || got["currency"] != "CAD" || got["name"] != "Napa Cellars" {
		t.Fatalf("patch currency: %d %v", status, got)
	}
	if status, got := h.do("PATCH", path, `{"currency":"C$"}`); status != 422 || !strings.Contains(fmt.Sprint(got["error"]), "ISO 4217") {
		t.Fatalf("patch a currency that is none: %d %v", status, got)
	}

	status, got = h.do("PATCH", path, `{"rotate_webhook_credentials":true}`)
	if status != 200 || got["webhook_user"] == nil || got["webhook_user"] == napa["webhook_user"] || got["webhook_password"] == napa["webhook_password"] {
		t.Fatalf("rotate: %d %v", status, got)
	}
	order := `{"object":"Order","action":"Create","tenantId":"napa","user":"Staff","payload":{"id":"o1","total":100,"updatedAt":"u1",` + ada + `}}`
	if st, _ := h.doWith("POST", "/webhooks/commerce7", order, basicAuth(napa["webhook_user"].(string), napa["webhook_password"].(string))); st != 401 {
		t.Fatalf("the old pair after a PATCH rotation: %d, want 401", st)
	}
	if st, _ := h.doWith("POST", "/webhooks/commerce7", order, basicAuth(got["webhook_user"].(string), got["webhook_password"].(string))); st != 200 {
		t.Fatalf("the new pair: %d, want 200", st)
	}
	if logged := h.logs.String(); !strings.Contains(logged, "fields=name,rate_limit_per_minute") || !strings.Contains(logged, `by="api token"`) ||
		strings.Contains(logged, got["webhook_password"].(string)) {
		t.Fatalf("the audit log names the fields and who, never a value:\n%s", logged)
	}

	cases := []struct {
		name, path, body string
		status           int
		msg              string
	}{
		{"an unknown field", path, `{"nme":"x"}`, 400, "nme"},
		{"a wrong type", path, `{"rate_limit_per_minute":"fast"}`, 400, "rate_limit_per_minute"},
		{"nothing to change", path, `{}`, 400, "nothing to change"},
		{"an empty name", path, `{"name":"  "}`, 422, "name must not be empty"},
		{"a rate of 0", path, `{"name":"Changed","rate_limit_per_minute":0}`, 422, "rate_limit_per_minute must be between 1 and"},
		{"a Shopify field on Commerce7", path, `{"name":"Changed","shopify_access_token":"shpat_y"}`, 422, "only for shopify clients"},
		{"webhook credentials of a Shopify client", "/api/clients/" + vino["id"].(string), `{"name":"Changed","rotate_webhook_credentials":true}`, 422, "only Commerce7 clients"},
		{"a token's field on a client_credentials way", "/api/clients/" + vino["id"].(string), `{"name":"Changed","shopify_client_secret":"s"}`, 422, "not used with shopify_auth \"token\""},
		{"an unknown client", "/api/clients/00000000-0000-4000-8000-000000000000", `{"name":"x"}`, 404, "not found"},
		{"a malformed id", "/api/clients/abc", `{"name":"x"}`, 400, "UUID"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := h.do("PATCH", c.path, c.body)
			if status != c.status || !strings.Contains(fmt.Sprint(body["error"]), c.msg) {
				t.Fatalf("%d %v, want %d with %q", status, body, c.status, c.msg)
			}
		})
	}
	// The refused patches changed nothing.
	var names []string
	rows, err := h.pool.Query(context.Background(), `SELECT name FROM clients ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if fmt.Sprint(names) != "[Napa Cellars Vino]" {
		t.Fatalf("names after refused patches: %v", names)
	}
	if rate, _ := h.bucket(id); rate != 240 {
		t.Fatalf("the bucket's rate is %d after refused patches, want 240", rate)
	}
}

// TestRotateShopifyCredentials: a client_credentials connection whose secret Shopify
// refuses is refresh_failing (its check says why, GET /api/clients shows it); a PATCH
// with the right secret makes it connected again with no stored token, and the next check
// gets a new one; changing the way works (token → client_credentials, → oauth pending),
// and no answer nor log line holds a secret.
func TestRotateShopifyCredentials(t *testing.T) {
	t.Parallel()
	h := newCRMHarness(t)
	const shop = "vino.myshopify.com"
	h.shop.Install(shop, orgApp)
	c := h.create(`{"name":"Vino","crm_type":"shopify","tenant":"` + shop + `","shopify_auth":"client_credentials",` +
		`"shopify_client_id":"` + orgApp + `","shopify_client_secret":"not-the-secret"}`)
	id := c["id"].(string)
	conn := func(c map[string]any) map[string]any { m, _ := c["connection"].(map[string]any); return m }
	if cn := conn(c); cn == nil || cn["state"] != "connected" || cn["shopify_auth"] != "client_credentials" {
		t.Fatalf("created: %v", c)
	}

	status, check := h.do("POST", "/api/clients/"+id+"/check", "")
	if status != 200 || check["ok"] != false || !strings.Contains(fmt.Sprint(check["error"]), "client credentials grant failed") {
		t.Fatalf("check with a refused secret: %d %v", status, check)
	}
	status, list := h.do("GET", "/api/clients", "")
	items, _ := list["items"].([]any)
	if status != 200 || len(items) != 1 {
		t.Fatalf("list: %d %v", status, list)
	}
	failing := conn(items[0].(map[string]any))
	if failing["state"] != "refresh_failing" || !strings.Contains(fmt.Sprint(failing["error"]), "client credentials grant failed") {
		t.Fatalf("GET /api/clients after a failed check: %v", failing)
	}

	status, got := h.do("PATCH", "/api/clients/"+id, `{"shopify_client_secret":"`+orgAppSecret+`"}`)
	if cn := conn(got); status != 200 || cn["state"] != "connected" || cn["error"] != nil || cn["token_expires_at"] != nil {
		t.Fatalf("rotate the secret: %d %v", status, got)
	}
	var stored bool
	if err := h.pool.QueryRow(context.Background(), `SELECT access_token_enc IS NOT NULL FROM shopify_connections WHERE client_id = $1`, id).Scan(&stored); err != nil || stored {
		t.Fatalf("after a rotation the old credentials' token is kept: %v %v", stored, err)
	}
	if status, check = h.do("POST", "/api/clients/"+id+"/check", ""); status != 200 || check["ok"] != true {
		t.Fatalf("check after the rotation: %d %v", status, check)
	}
	status, list = h.do("GET", "/api/clients", "")
	if cn := conn(list["items"].([]any)[0].(map[string]any)); cn["state"] != "connected" || cn["token_expires_at"] == nil {
		t.Fatalf("after a good check the new token is held: %v", cn)
	}

	ways := []struct {
		name, body, auth, state string
		token                   bool // an access token is stored after the patch
	}{
		{"to a static token", `{"shopify_auth":"token","shopify_access_token":"shpat_new","shopify_webhook_secret":"whsec_new"}`, "token", "connected", true},
		{"the token's webhook secret alone", `{"shopify_webhook_secret":"whsec_newer"}`, "token", "connected", true},
		{"back to client credentials", `{"shopify_auth":"client_credentials","shopify_client_id":"` + orgApp + `","shopify_client_secret":"` + orgAppSecret + `"}`, "client_credentials", "connected", false},
		{"to oauth: pending until the install", `{"shopify_auth":"oauth"}`, "oauth", "pending", false},
	}
	for _, w := range ways {
		status, got := h.do("PATCH", "/api/clients/"+id, w.body)
		cn := conn(got)
		if status != 200 || cn["shopify_auth"] != w.auth || cn["state"] != w.state {
			t.Fatalf("%s: %d %v", w.name, status, got)
		}
		var token, hook, appSecret bool
		if err := h.pool.QueryRow(context.Background(), `SELECT access_token_enc IS NOT NULL, webhook_secret_enc IS NOT NULL,
			app_client_secret_enc IS NOT NULL FROM shopify_connections WHERE client_id = $1`, id).Scan(&token, &hook, &appSecret); err != nil {
			t.Fatal(err)
		}
		if token != w.token || hook != (w.auth == "token") || appSecret != (w.auth == "client_credentials") {
			t.Fatalf("%s: stored token %v, webhook secret %v, app secret %v", w.name, token, hook, appSecret)
		}
		if strings.Contains(fmt.Sprint(got), "shpat_new") || strings.Contains(fmt.Sprint(got), "whsec") || strings.Contains(fmt.Sprint(got), orgAppSecret) {
			t.Fatalf("%s: the answer shows a secret: %v", w.name, got)
		}
	}
	if status, got := h.do("PATCH", "/api/clients/"+id, `{"shopify_client_secret":"x"}`); status != 422 || !strings.Contains(fmt.Sprint(got["error"]), "oauth") {
		t.Fatalf("rotating an oauth connection's secret: %d %v", status, got)
	}
	logged := h.logs.String()
	if !strings.Contains(logged, "shopify credentials rotated") || !strings.Contains(logged, "fields=shopify_client_secret") {
		t.Fatalf("rotations are logged with their fields:\n%s", logged)
	}
	for _, secret := range []string{orgAppSecret, "shpat_new", "whsec_new", "not-the-secret"} {
		if strings.Contains(logged, secret) {
			t.Fatalf("the log holds %q:\n%s", secret, logged)
		}
	}
}

// TestCheckClient: one read at the CRM with a token from the client's bucket; the CRM's
// refusal is the answer's error (200), an unknown client 404, a malformed id 400.
func TestCheckClient(t *testing.T) {
	t.Parallel()
	h := newCRMHarness(t)
	// 6 a minute: a burst of one token, so the one the check takes shows.
	napa := h.create(`{"name":"Napa","crm_type":"commerce7","tenant":"napa","rate_limit_per_minute":6}`)
	ghost := h.create(`{"name":"Ghost","crm_type":"commerce7","tenant":"ghost"}`) // no such Commerce7 tenant
	h.shop.AddShop("static.myshopify.com", "shpat_good")
	static := h.create(`{"name":"Static","crm_type":"shopify","tenant":"static.myshopify.com","shopify_access_token":"shpat_good","shopify_webhook_secret":"whsec"}`)
	revoked := h.create(`{"name":"Revoked","crm_type":"shopify","tenant":"revoked.myshopify.com","shopify_access_token":"shpat_revoked","shopify_webhook_secret":"whsec"}`)

	cases := []struct {
		name, id string
		status   int
		ok       any
		msg      string
	}{
		{"commerce7 answers", napa["id"].(string), 200, true, ""},
		{"commerce7 refuses the tenant", ghost["id"].(string), 200, false, "Invalid tenant"},
		{"shopify answers", static["id"].(string), 200, true, ""},
		{"shopify refuses the token", revoked["id"].(string), 200, false, "Shopify refused the stored access token"},
		{"an unknown client", "00000000-0000-4000-8000-000000000000", 404, nil, "not found"},
		{"a malformed id", "abc", 400, nil, "UUID"},
	}
	for _, c := range cases {
		status, got := h.do("POST", "/api/clients/"+c.id+"/check", "")
		if status != c.status || got["ok"] != c.ok || !strings.Contains(fmt.Sprint(got["error"]), c.msg) {
			t.Fatalf("%s: %d %v, want %d ok=%v %q", c.name, status, got, c.status, c.ok, c.msg)
		}
		if c.ok == true {
			if _, has := got["error"]; has {
				t.Fatalf("%s: an ok check has an error: %v", c.name, got)
			}
		}
	}
	if reqs := h.c7.Requests(); len(reqs) != 2 || reqs[0].Path != "/customer" {
		t.Fatalf("Commerce7 requests %+v, want one GET /customer per check", reqs)
	}
	if _, tokens := h.bucket(napa["id"].(string)); tokens >= 0.5 {
		t.Fatalf("Napa's bucket holds %.2f tokens after its check, want its one token taken", tokens)
	}
}
