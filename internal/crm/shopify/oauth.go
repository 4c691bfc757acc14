package shopify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"tiersync/internal/crm"
)

// Token is what the token endpoint answered. A zero ExpiresAt never expires (a legacy static token).
type Token struct {
	AccessToken      string
	ExpiresAt        time.Time
	RefreshToken     string // "" when the grant gives none
	RefreshExpiresAt time.Time
	Scope            string
}

// String never shows the tokens (a Token printed by mistake gives nothing away).
func (t Token) String() string {
	return fmt.Sprintf("shopify.Token{expires %s, refresh %t, scope %q}", t.ExpiresAt.Format(time.RFC3339), t.RefreshToken != "", t.Scope)
}

// The grants, as Shopify names them in grant_type; the authorization code exchange sends
// none (docs/crm-assumptions.md, "Authentication").
const (
	grantClientCredentials = "client_credentials"
	grantRefreshToken      = "refresh_token"
)

// ValidShop says shop is a permanent *.myshopify.com domain
// (^[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com$). The shop names the host every token
// request and the merchant's browser go to, so anything else ("evil.test/x.myshopify.com",
// "x.myshopify.com.evil.test") would hand the client secret or the install to someone else.
func ValidShop(shop string) bool {
	name, ok := strings.CutSuffix(shop, ".myshopify.com")
	if !ok || name == "" {
		return false
	}
	for i, r := range name {
		alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !alnum && (i == 0 || r != '-') {
			return false
		}
	}
	return true
}

// base is Config.BaseURL for shop, without a trailing slash.
func (c *Client) base(shop string) string {
	return strings.TrimRight(strings.ReplaceAll(c.cfg.BaseURL, "{shop}", shop), "/")
}

// sharedBase says every shop is served from one URL (SHOPIFY_API_URL without "{shop}": a
// fake). Such a server cannot tell shops apart by host, so the OAuth requests name the
// shop in a "shop" parameter; against Shopify (https://{shop}) they never carry one.
func (c *Client) sharedBase() bool { return !strings.Contains(c.cfg.BaseURL, "{shop}") }

// AuthorizeURL is the shop's authorization page, where the merchant approves scopes and
// Shopify redirects the browser to redirectURI with code, hmac, host, shop, state and
// timestamp. state is the caller's nonce, checked again in the callback.
func (c *Client) AuthorizeURL(shop, clientID string, scopes []string, redirectURI, state string) string {
	q := url.Values{}
	q.Set("client_id", clientID)
	q.Set("scope", strings.Join(scopes, ","))
	q.Set("redirect_uri", redirectURI)
	q.Set("state", state)
	if c.sharedBase() {
		q.Set("shop", shop)
	}
	return c.base(shop) + "/admin/oauth/authorize?" + q.Encode()
}

// ClientCredentialsToken asks for a token with the app's own credentials: only an app of
// the shop's own organisation, installed on the shop, may. The token lasts about 24 hours
// and comes without a refresh token: the same call gets the next one.
func (c *Client) ClientCredentialsToken(ctx context.Context, shop, clientID, clientSecret string) (Token, error) {
	form := url.Values{"grant_type": {grantClientCredentials}, "client_id": {clientID}, "client_secret": {clientSecret}}
	return c.tokenRequest(ctx, "get client credentials token", shop, form, clientSecret)
}

// ExchangeCode trades the authorization code of the install callback for the shop's
// offline token. It asks for an expiring one (expiring=1: 60 minutes, with a refresh
// token), which Shopify requires of public apps from 2027-01-01.
func (c *Client) ExchangeCode(ctx context.Context, shop, clientID, clientSecret, code string) (Token, error) {
	form := url.Values{"client_id": {clientID}, "client_secret": {clientSecret}, "code": {code}, "expiring": {"1"}}
	return c.tokenRequest(ctx, "exchange authorization code", shop, form, clientSecret, code)
}

// RefreshToken trades a refresh token for a new access token and a new refresh token.
// The caller must store both before using either: Shopify retires the old refresh token
// once the new one is used, so a pair lost after the answer can only be recovered by
// sending the old refresh token again.
func (c *Client) RefreshToken(ctx context.Context, shop, clientID, clientSecret, refreshToken string) (Token, error) {
	form := url.Values{"grant_type": {grantRefreshToken}, "client_id": {clientID}, "client_secret": {clientSecret},
		"refresh_token": {refreshToken}}
	return c.tokenRequest(ctx, "refresh access token", shop, form, clientSecret, refreshToken)
}

// tokenAnswer is the token endpoint's JSON, success or error.
type tokenAnswer struct {
	AccessToken           string `json:"access_token"`
	Scope                 string `json:"scope"`
	ExpiresIn             int64  `json:"expires_in"`
	RefreshToken          string `json:"refresh_token"`
	RefreshTokenExpiresIn int64  `json:"refresh_token_expires_in"`

	Error            json.RawMessage `json:"error"` // a code ("invalid_grant"), or an object on some answers
	ErrorDescription string          `json:"error_description"`
	Errors           json.RawMessage `json:"errors"` // the Admin API's shape, from a proxy or an old endpoint
}

// maxTokenLen caps a token we accept: Shopify's are tens of bytes; anything far longer
// is not a token and would not fit a header.
const maxTokenLen = 4096

// tokenRequest posts form to the shop's token endpoint. secrets are the values sent that
// must never appear in an error: they are cut out of whatever Shopify's answer quotes.
//
// No rate-limit token is taken (Config.Limiter): the token endpoint is not the Admin API
// and does not count against its limit, and a renewal must not wait behind the very
// backlog whose requests need the new token.
func (c *Client) tokenRequest(ctx context.Context, op, shop string, form url.Values, secrets ...string) (Token, error) {
	fail := func(class crm.Class, status int, msg string, err error) (Token, error) {
		for _, s := range secrets {
			if s != "" {
				msg = strings.ReplaceAll(msg, s, "[redacted]")
			}
		}
		return Token{}, &crm.Error{Class: class, CRM: "shopify", Op: op, Status: status, Message: crm.CleanText(msg, crm.MaxQuoted), Err: err}
	}
	if !ValidShop(shop) {
		return fail(crm.Permanent, 0, fmt.Sprintf("%q is not a *.myshopify.com shop domain", crm.CleanText(shop, 100)), nil)
	}
	if c.sharedBase() {
		form.Set("shop", shop)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base(shop)+"/admin/oauth/access_token", strings.NewReader(form.Encode()))
	if err != nil {
		return fail(crm.Permanent, 0, "build request: "+err.Error(), nil)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		// The transport's error names the URL, never the body: no secret in it. It is
		// not wrapped (Err) all the same, so nothing downstream can dig out the request.
		return fail(crm.Retryable, 0, err.Error(), nil)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		return Token{}, crm.RedirectError("shopify", op, resp)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fail(crm.Retryable, resp.StatusCode, "read answer: "+err.Error(), nil)
	}
	var a tokenAnswer
	decodeErr := json.Unmarshal(raw, &a)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		class := crm.StatusClass(resp.StatusCode)
		msg := tokenErrorText(a)
		if decodeErr != nil || msg == "" {
			msg = strings.TrimSpace(string(raw))
		}
		tok, e := fail(class, resp.StatusCode, msg, nil)
		if class == crm.Throttled {
			e.(*crm.Error).RetryAfter = crm.RetryAfter(resp.Header, c.cfg.Now())
		}
		return tok, e
	}
	if decodeErr != nil {
		return fail(crm.Retryable, resp.StatusCode, "decode answer: "+decodeErr.Error(), nil)
	}
	if !usableToken(a.AccessToken) || a.RefreshToken != "" && !usableToken(a.RefreshToken) {
		// A 200 without a usable token: something between us and Shopify answered. The
		// next attempt asks again (a code is single-use, but was it used?—Shopify decides).
		return fail(crm.Retryable, resp.StatusCode, "the answer carries no usable token", nil)
	}
	now := c.cfg.Now()
	t := Token{AccessToken: a.AccessToken, RefreshToken: a.RefreshToken, Scope: crm.CleanText(a.Scope, crm.MaxMessage)}
	if a.ExpiresIn > 0 {
		t.ExpiresAt = now.Add(time.Duration(a.ExpiresIn) * time.Second)
	}
	if a.RefreshToken != "" && a.RefreshTokenExpiresIn > 0 {
		t.RefreshExpiresAt = now.Add(time.Duration(a.RefreshTokenExpiresIn) * time.Second)
	}
	return t, nil
}

// tokenErrorText renders the token endpoint's error: "invalid_grant: <description>".
func tokenErrorText(a tokenAnswer) string {
	var code string
	if len(a.Error) > 0 && json.Unmarshal(a.Error, &code) != nil {
		code = string(a.Error)
	}
	switch {
	case code != "" && a.ErrorDescription != "":
		return code + ": " + a.ErrorDescription
	case code != "":
		return code
	case a.ErrorDescription != "":
		return a.ErrorDescription
	}
	return errorText(a.Errors)
}

// usableToken refuses what could not go into a header or be stored: empty, too long,
// or with bytes outside printable ASCII.
func usableToken(s string) bool {
	if s == "" || len(s) > maxTokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// VerifyQueryHMAC says the query (of the install callback, or of any request Shopify
// signs this way) carries a valid hmac: the hex HMAC-SHA256, keyed with the app's client
// secret, of every other parameter sorted by name and joined as "k=v&k=v" (in names "%",
// "&" and "=" escaped, in values "%" and "&"). The comparison takes constant time. A
// parameter given twice fails: Shopify never sends one twice, and which copy was signed
// would be a guess.
func VerifyQueryHMAC(q url.Values, secret string) bool {
	given := q["hmac"]
	if secret == "" || len(given) != 1 {
		return false
	}
	want, err := hex.DecodeString(given[0])
	if err != nil || len(want) != sha256.Size {
		return false
	}
	keys := make([]string, 0, len(q))
	for k, vs := range q {
		if k == "hmac" || k == "signature" { // signature: the legacy MD5 parameter, never signed
			continue
		}
		if len(vs) != 1 {
			return false
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	keyEsc := strings.NewReplacer("%", "%25", "&", "%26", "=", "%3D")
	valEsc := strings.NewReplacer("%", "%25", "&", "%26")
	m := hmac.New(sha256.New, []byte(secret))
	for i, k := range keys {
		if i > 0 {
			io.WriteString(m, "&")
		}
		io.WriteString(m, keyEsc.Replace(k)+"="+valEsc.Replace(q.Get(k)))
	}
	return hmac.Equal(m.Sum(nil), want)
}
