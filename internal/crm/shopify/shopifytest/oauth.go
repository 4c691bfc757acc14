package shopifytest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"tiersync/internal/crm/crmfake"
	"tiersync/internal/outbound"
)

// Shopify's token lifetimes (docs/crm-assumptions.md, "Authentication"): what
// Options.AccessTokenTTL and RefreshTokenTTL default to.
const (
	ClientCredentialsTTL = 24 * time.Hour
	ExpiringOfflineTTL   = 60 * time.Minute
	RefreshTTL           = 90 * 24 * time.Hour
	// refreshRecovery is how long after its first use a refresh token may be sent again
	// (its answer was lost) while its replacement is unused.
	refreshRecovery = 30 * 24 * time.Hour
)

// WebhookAPIVersion is the X-Shopify-API-Version of the webhooks the fake signs.
const WebhookAPIVersion = "2025-10"

// App is an app the fake knows: a Dev Dashboard app's credentials.
type App struct {
	ClientID, ClientSecret string
	// Org: an app of the shop's own organisation, which may use the client credentials
	// grant (on shops it is installed on).
	Org bool
	// Scopes are what a client credentials token carries; nil: read_customers,
	// write_customers.
	Scopes []string
}

// TokenRequest is one request to the token endpoint as the fake saw it (never a secret).
type TokenRequest struct {
	Grant    string `json:"grant"` // client_credentials, authorization_code or refresh_token
	ClientID string `json:"client_id"`
	Shop     string `json:"shop"`
	Status   int    `json:"status"` // 0: the answer was lost or the call hung
	Error    string `json:"error"`  // the OAuth error code answered, if any
}

type accessGrant struct {
	shop, clientID string
	expiresAt      time.Time // zero: never
}

// refreshGrant is a refresh token. Shopify rotates them: using one issues a replacement,
// and the one before it is retired once the replacement is used; until then it may be
// sent again (a lost answer), for at most refreshRecovery after its first use.
type refreshGrant struct {
	shop, clientID, scope string
	expiresAt             time.Time
	firstUsed             time.Time // zero: never used
	predecessor           string    // the refresh token whose use issued this one
	replacement           string    // the last one this one's use issued
	retired               bool
}

type authCode struct{ shop, clientID, scope string }

// auth is the fake's OAuth state; Fake.mu guards it.
type auth struct {
	core     *crmfake.Core[TokenRequest] // the token endpoint's faults and log
	apps     map[string]*App
	installs map[string]map[string]bool // shop → client id → installed
	access   map[string]*accessGrant
	refresh  map[string]*refreshGrant
	codes    map[string]*authCode
}

func newAuth() *auth {
	return &auth{core: crmfake.New[TokenRequest](), apps: map[string]*App{}, installs: map[string]map[string]bool{},
		access: map[string]*accessGrant{}, refresh: map[string]*refreshGrant{}, codes: map[string]*authCode{}}
}

// AddApp makes (or replaces) an app.
func (f *Fake) AddApp(a App) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a.Scopes = append([]string{}, a.Scopes...)
	f.auth.apps[a.ClientID] = &a
}

// Install installs the app on the shop (making the shop if it is new), as a merchant's
// approval on the authorization page does. It panics for an unknown app.
func (f *Fake) Install(shop, clientID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.install(shop, clientID); err != nil {
		panic("shopifytest: " + err.Error())
	}
}

func (f *Fake) install(shop, clientID string) error {
	if f.auth.apps[clientID] == nil {
		return fmt.Errorf("unknown app %q", clientID)
	}
	if f.shops[shop] == nil {
		f.shops[shop] = &shopState{domain: shop, available: f.opts.BucketSize, at: f.opts.Now()}
	}
	if f.auth.installs[shop] == nil {
		f.auth.installs[shop] = map[string]bool{}
	}
	f.auth.installs[shop][clientID] = true
	return nil
}

// Uninstall removes the app from the shop: every token, refresh token and code it holds
// for the shop stops working at once. Static tokens (Options.Shops, AddShop) are not an
// app's and keep working.
func (f *Fake) Uninstall(shop, clientID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.uninstall(shop, clientID)
}

func (f *Fake) uninstall(shop, clientID string) {
	delete(f.auth.installs[shop], clientID)
	for tok, g := range f.auth.access {
		if g.shop == shop && g.clientID == clientID {
			delete(f.auth.access, tok)
		}
	}
	for tok, g := range f.auth.refresh {
		if g.shop == shop && g.clientID == clientID {
			delete(f.auth.refresh, tok)
		}
	}
	for c, g := range f.auth.codes {
		if g.shop == shop && g.clientID == clientID {
			delete(f.auth.codes, c)
		}
	}
}

// UninstallAndNotify uninstalls the app and delivers its app/uninstalled webhook to url,
// as Shopify does; it answers the status url answered.
func (f *Fake) UninstallAndNotify(ctx context.Context, url, shop, clientID string) (int, error) {
	f.mu.Lock()
	known := f.auth.apps[clientID] != nil
	f.mu.Unlock()
	if !known {
		return 0, fmt.Errorf("shopifytest: unknown app %q", clientID)
	}
	f.Uninstall(shop, clientID)
	return f.Deliver(ctx, url, shop, clientID, "app/uninstalled", shopPayload(shop))
}

// shopPayload is the shop JSON app/uninstalled carries (its REST Shop resource, trimmed).
func shopPayload(shop string) []byte {
	name, _, _ := strings.Cut(shop, ".")
	b, _ := json.Marshal(map[string]any{"id": 548380009, "name": name, "domain": shop, "myshopify_domain": shop})
	return b
}

// InjectOAuth adds a fault to the token endpoint; Operation names the grant
// (client_credentials, authorization_code, refresh_token; "" any), Shop the shop.
func (f *Fake) InjectOAuth(fl Fault) { f.auth.core.Inject(fl.generic()) }

// TokenRequests returns every token endpoint request so far, in arrival order.
func (f *Fake) TokenRequests() []TokenRequest { return f.auth.core.Requests() }

// shopForToken is the shop an access token opens: a static token's, or an issued token's
// while it has not expired and its app is still installed. f.mu held.
func (f *Fake) shopForToken(token string) (string, bool) {
	if token == "" {
		return "", false
	}
	if shop, ok := f.byToken[token]; ok {
		return shop, true
	}
	g := f.auth.access[token]
	if g == nil || !g.expiresAt.IsZero() && !f.opts.Now().Before(g.expiresAt) || !f.auth.installs[g.shop][g.clientID] {
		return "", false
	}
	return g.shop, true
}

// registerOAuth serves the OAuth endpoints and their control API.
func (f *Fake) registerOAuth(mux *http.ServeMux) {
	mux.HandleFunc("POST /admin/oauth/access_token", f.serveToken)
	mux.HandleFunc("GET /admin/oauth/authorize", f.serveAuthorize)
	f.auth.core.Register(mux, crmfake.Control{Prefix: "/_fake/shopify/oauth", Kinds: faultKinds()[:3],
		Fault: func(in crmfake.FaultRequest, kind crmfake.Kind) crmfake.Fault {
			return Fault{Operation: in.Operation, Count: in.Count, Kind: kind, Status: in.Status, RetryAfter: in.RetryAfter,
				Shop: in.Shop, Message: in.Message, RawBody: in.RawBody}.generic()
		}})
	mux.HandleFunc("POST /_fake/shopify/apps", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ClientID     string   `json:"client_id"`
			ClientSecret string   `json:"client_secret"`
			Org          bool     `json:"org"`
			Scopes       []string `json:"scopes"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.ClientID == "" || in.ClientSecret == "" {
			writeJSON(w, 400, map[string]string{"error": `want {"client_id", "client_secret", "org"?, "scopes"?}`})
			return
		}
		f.AddApp(App{ClientID: in.ClientID, ClientSecret: in.ClientSecret, Org: in.Org, Scopes: in.Scopes})
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_fake/shopify/installs", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Shop     string `json:"shop"`
			ClientID string `json:"client_id"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Shop == "" || in.ClientID == "" {
			writeJSON(w, 400, map[string]string{"error": `want {"shop", "client_id"}`})
			return
		}
		f.mu.Lock()
		err := f.install(in.Shop, in.ClientID)
		f.mu.Unlock()
		if err != nil {
			writeJSON(w, 404, map[string]string{"error": err.Error()})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_fake/shopify/uninstalls", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Shop       string `json:"shop"`
			ClientID   string `json:"client_id"`
			WebhookURL string `json:"webhook_url"` // optional: where app/uninstalled goes
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Shop == "" || in.ClientID == "" {
			writeJSON(w, 400, map[string]string{"error": `want {"shop", "client_id", "webhook_url"?}`})
			return
		}
		if in.WebhookURL == "" {
			f.Uninstall(in.Shop, in.ClientID)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		status, err := f.UninstallAndNotify(r.Context(), in.WebhookURL, in.Shop, in.ClientID)
		if err != nil {
			writeJSON(w, 502, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, 200, map[string]int{"webhook_status": status})
	})
}

// tokenError is the token endpoint's error body: {"error", "error_description"}.
func tokenError(code, description string) map[string]string {
	return map[string]string{"error": code, "error_description": description}
}

// readTokenForm reads the token request's parameters: a JSON object (Shopify's own
// libraries send one) or a form (its docs show one), with parameters in the query string
// as old integrations send them.
func readTokenForm(r *http.Request) (map[string]string, error) {
	out := map[string]string{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		var in map[string]any
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
		dec.UseNumber()
		if err := dec.Decode(&in); err != nil {
			return nil, err
		}
		for k, v := range in {
			out[k] = fmt.Sprint(v)
		}
		for k := range r.URL.Query() {
			if _, ok := out[k]; !ok {
				out[k] = r.URL.Query().Get(k)
			}
		}
		return out, nil
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	for k := range r.Form {
		out[k] = r.Form.Get(k)
	}
	return out, nil
}

// grantOf names the grant a token request asks for: the code exchange has no grant_type.
func grantOf(in map[string]string) string {
	if g := in["grant_type"]; g != "" {
		return g
	}
	if in["code"] != "" {
		return "authorization_code"
	}
	return ""
}

// shopOf is the shop a request is about: a "shop" parameter (one URL serves every shop,
// so tiersync names it), else a *.myshopify.com Host, else what the grant itself names (a
// code, a refresh token), else the only shop the app is installed on. f.mu held.
func (f *Fake) shopOf(r *http.Request, in map[string]string) string {
	if s := in["shop"]; s != "" {
		return s
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if strings.HasSuffix(host, ".myshopify.com") {
		return host
	}
	if c := f.auth.codes[in["code"]]; c != nil {
		return c.shop
	}
	if g := f.auth.refresh[in["refresh_token"]]; g != nil {
		return g.shop
	}
	var only []string
	for shop, apps := range f.auth.installs {
		if apps[in["client_id"]] {
			only = append(only, shop)
		}
	}
	if len(only) == 1 {
		return only[0]
	}
	return ""
}

func (f *Fake) serveToken(w http.ResponseWriter, r *http.Request) {
	in, err := readTokenForm(r)
	if err != nil {
		writeJSON(w, 400, tokenError("invalid_request", "The request body could not be read"))
		return
	}
	grant := grantOf(in)
	f.mu.Lock()
	shop := f.shopOf(r, in)
	rec := TokenRequest{Grant: grant, ClientID: in["client_id"], Shop: shop}
	fault := f.auth.core.Take(crmfake.Call{Method: r.Method, Path: r.URL.Path, Operation: grant, Scope: shop})
	var status int
	var resp any
	switch {
	case fault != nil && fault.Kind == FaultStatus:
		msg := fault.Message
		if msg == "" {
			msg = fmt.Sprintf("injected %d", fault.Status)
		}
		status, resp = fault.Status, tokenError("server_error", msg)
	case fault != nil && fault.Kind == FaultHang:
	default: // no fault, or LoseAnswer: the grant is applied either way
		status, resp = f.grant(grant, shop, in)
	}
	if fault == nil || fault.Kind == FaultStatus {
		rec.Status = status
		if m, ok := resp.(map[string]string); ok {
			rec.Error = m["error"]
		}
	}
	logged := f.auth.core.Log(rec)
	latency := f.auth.core.Latency()
	f.mu.Unlock()
	if !f.auth.core.Deliver(w, r, latency, fault, func(w http.ResponseWriter) { writeJSON(w, status, resp) }) {
		f.auth.core.Update(logged, func(r *TokenRequest) { r.Status = 0 })
	}
}

// grant applies a token request; f.mu held.
func (f *Fake) grant(grant, shop string, in map[string]string) (int, any) {
	app := f.auth.apps[in["client_id"]]
	if app == nil || !hmac.Equal([]byte(app.ClientSecret), []byte(in["client_secret"])) {
		return 400, tokenError("invalid_client", "Client authentication failed: unknown client or wrong client secret")
	}
	now := f.opts.Now()
	switch grant {
	case "client_credentials":
		if !app.Org {
			return 400, tokenError("unauthorized_client", "The client credentials grant is only available to apps of the shop's own organization")
		}
		if shop == "" || !f.auth.installs[shop][app.ClientID] {
			return 400, tokenError("invalid_request", "The app is not installed on this shop")
		}
		scopes := app.Scopes
		if len(scopes) == 0 {
			scopes = []string{"read_customers", "write_customers"}
		}
		ttl := f.ttl(ClientCredentialsTTL)
		tok := f.issueAccess(shop, app.ClientID, now.Add(ttl))
		return 200, map[string]any{"access_token": tok, "scope": strings.Join(scopes, ","), "expires_in": int64(ttl / time.Second)}
	case "authorization_code":
		c := f.auth.codes[in["code"]]
		if c == nil || c.clientID != app.ClientID {
			return 400, tokenError("invalid_request", "The authorization code was not found or was already used")
		}
		delete(f.auth.codes, in["code"]) // single use
		if in["expiring"] != "1" {
			// A non-expiring offline token: no expires_in, no refresh token.
			return 200, map[string]any{"access_token": f.issueAccess(c.shop, c.clientID, time.Time{}), "scope": c.scope}
		}
		return 200, f.issuePair(c.shop, c.clientID, c.scope, "", now)
	case "refresh_token":
		old := in["refresh_token"]
		g := f.auth.refresh[old]
		switch {
		case g == nil || g.clientID != app.ClientID || g.retired || !now.Before(g.expiresAt):
			return 400, tokenError("invalid_grant", "The refresh token is invalid, expired or revoked")
		case !g.firstUsed.IsZero() && !now.Before(g.firstUsed.Add(refreshRecovery)):
			return 400, tokenError("invalid_grant", "The refresh token was already used")
		}
		if g.firstUsed.IsZero() {
			g.firstUsed = now
		}
		// The app uses this token: the one before it is retired. A replacement this token
		// issued earlier (its answer lost) is replaced by the new one.
		if p := f.auth.refresh[g.predecessor]; p != nil {
			p.retired = true
		}
		if r := f.auth.refresh[g.replacement]; r != nil && r.firstUsed.IsZero() {
			r.retired = true
		}
		pair := f.issuePair(g.shop, g.clientID, g.scope, old, now)
		g.replacement = pair["refresh_token"].(string)
		return 200, pair
	default:
		return 400, tokenError("unsupported_grant_type", fmt.Sprintf("grant_type %q is not supported", grant))
	}
}

// ttl is Options.AccessTokenTTL, or the grant's own lifetime.
func (f *Fake) ttl(grantDefault time.Duration) time.Duration {
	if f.opts.AccessTokenTTL > 0 {
		return f.opts.AccessTokenTTL
	}
	return grantDefault
}

func (f *Fake) issueAccess(shop, clientID string, expires time.Time) string {
	tok := "shpat_" + randomHex(16)
	f.auth.access[tok] = &accessGrant{shop: shop, clientID: clientID, expiresAt: expires}
	return tok
}

// issuePair issues an expiring offline token with its refresh token.
func (f *Fake) issuePair(shop, clientID, scope, predecessor string, now time.Time) map[string]any {
	ttl := f.ttl(ExpiringOfflineTTL)
	refreshTTL := f.opts.RefreshTokenTTL
	if refreshTTL <= 0 {
		refreshTTL = RefreshTTL
	}
	rt := "shprt_" + randomHex(16)
	f.auth.refresh[rt] = &refreshGrant{shop: shop, clientID: clientID, scope: scope, expiresAt: now.Add(refreshTTL), predecessor: predecessor}
	return map[string]any{"access_token": f.issueAccess(shop, clientID, now.Add(ttl)), "scope": scope,
		"expires_in": int64(ttl / time.Second), "refresh_token": rt, "refresh_token_expires_in": int64(refreshTTL / time.Second)}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// serveAuthorize is the authorization page with a merchant who approves at once: the app
// is installed and the browser is sent to redirect_uri with a code and Shopify's hmac.
// The shop is the "shop" parameter (tiersync adds it when one URL serves every shop), else
// a *.myshopify.com Host.
func (f *Fake) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page := func(status int, msg string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<!doctype html><title>Oauth error</title><h1>Oauth error invalid_request: %s</h1>\n", html.EscapeString(msg))
	}
	shop := q.Get("shop")
	if shop == "" {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		shop = host
	}
	if !strings.HasSuffix(shop, ".myshopify.com") {
		page(400, "no shop: send shop=<name>.myshopify.com when one URL serves every shop")
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || redirect.Scheme == "" || redirect.Host == "" {
		page(400, "The redirect_uri is missing or not an absolute URL")
		return
	}
	f.mu.Lock()
	app := f.auth.apps[q.Get("client_id")]
	if app == nil {
		f.mu.Unlock()
		page(400, "The client_id is not found")
		return
	}
	_ = f.install(shop, app.ClientID)
	code := randomHex(16)
	f.auth.codes[code] = &authCode{shop: shop, clientID: app.ClientID, scope: q.Get("scope")}
	now := f.opts.Now()
	secret := app.ClientSecret
	f.mu.Unlock()

	name, _, _ := strings.Cut(shop, ".")
	params := redirect.Query()
	params.Set("code", code)
	params.Set("host", base64.StdEncoding.EncodeToString([]byte("admin.shopify.com/store/"+name)))
	params.Set("shop", shop)
	params.Set("state", q.Get("state"))
	params.Set("timestamp", fmt.Sprint(now.Unix()))
	params.Set("hmac", signQuery(params, secret))
	redirect.RawQuery = params.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// signQuery is Shopify's hmac of a redirect's query: hex HMAC-SHA256 with the client
// secret of every parameter but hmac, sorted by name, as "k=v" joined by "&" (in names
// "%", "&", "=" escaped; in values "%", "&").
func signQuery(q url.Values, secret string) string {
	var parts []string
	for k := range q {
		if k == "hmac" || k == "signature" {
			continue
		}
		k2 := strings.NewReplacer("%", "%25", "&", "%26", "=", "%3D").Replace(k)
		v2 := strings.NewReplacer("%", "%25", "&", "%26").Replace(q.Get(k))
		parts = append(parts, k2+"="+v2)
	}
	sort.Strings(parts)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strings.Join(parts, "&")))
	return hex.EncodeToString(m.Sum(nil))
}

// SignedWebhook returns the headers Shopify sends with a webhook of topic from the shop
// to the app: X-Shopify-Hmac-Sha256 is the base64 HMAC-SHA256 of body keyed with the
// app's client secret.
func (f *Fake) SignedWebhook(shop, clientID, topic string, body []byte) (http.Header, error) {
	f.mu.Lock()
	app := f.auth.apps[clientID]
	now := f.opts.Now()
	f.mu.Unlock()
	if app == nil {
		return nil, fmt.Errorf("shopifytest: unknown app %q", clientID)
	}
	m := hmac.New(sha256.New, []byte(app.ClientSecret))
	m.Write(body)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(m.Sum(nil)))
	h.Set("X-Shopify-Shop-Domain", shop)
	h.Set("X-Shopify-Topic", topic)
	h.Set("X-Shopify-Webhook-Id", uuid())
	h.Set("X-Shopify-Event-Id", uuid())
	h.Set("X-Shopify-API-Version", WebhookAPIVersion)
	h.Set("X-Shopify-Triggered-At", now.UTC().Format(time.RFC3339Nano))
	return h, nil
}

// Deliver POSTs a signed webhook to url (redirects not followed, as Shopify) and answers
// the status.
func (f *Fake) Deliver(ctx context.Context, url, shop, clientID, topic string, body []byte) (int, error) {
	h, err := f.SignedWebhook(shop, clientID, topic, body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("shopifytest: webhook request: %w", err)
	}
	req.Header = h
	resp, err := outbound.NoRedirects(nil, 10*time.Second).Do(req)
	if err != nil {
		return 0, fmt.Errorf("shopifytest: deliver %s: %w", topic, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
