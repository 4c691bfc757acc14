package shopifyapp

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/apperr"
	"tiersync/internal/crm/shopify"
	"tiersync/internal/db"
)

// The install flow of the deployment's app (shopify_auth oauth), by the authorization
// code grant: /shopify/install sends the merchant to the shop's authorize page with a
// signed state, /shopify/callback checks what comes back and exchanges the code for
// expiring offline tokens.

// StateTTL is how long an install may take between the redirect and the callback.
const StateTTL = 10 * time.Minute

// installState is what the state parameter carries, signed: the shop it was issued for,
// when it stops being good, and a nonce so that no two are alike.
type installState struct {
	Shop    string `json:"s"`
	Expires int64  `json:"e"`
	Nonce   string `json:"n"`
}

// stateMAC signs a state's payload with the app's secret (a key only this deployment and
// Shopify hold), under a label of its own so the signature can serve nothing else.
func (s *Store) stateMAC(payload []byte) []byte {
	m := hmac.New(sha256.New, []byte("tiersync install state\x00"+s.app.ClientSecret))
	m.Write(payload)
	return m.Sum(nil)
}

// InstallURL is where GET /shopify/install sends the merchant: the shop's authorize page
// for the deployment's app, its scopes, the callback under publicURL, and a state bound to
// the shop that lasts StateTTL.
func (s *Store) InstallURL(shop, publicURL string) (string, error) {
	if s.app.ClientID == "" || publicURL == "" {
		return "", apperr.NotFoundf("this deployment has no Shopify app (SHOPIFY_APP_CLIENT_ID, SHOPIFY_APP_CLIENT_SECRET, PUBLIC_URL)")
	}
	shop = strings.ToLower(strings.TrimSpace(shop))
	if !shopify.ValidShop(shop) {
		return "", apperr.BadRequestf("shop %q is not a shop's myshopify.com domain (e.g. my-winery.myshopify.com)", clip(shop))
	}
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("install state: %w", err)
	}
	payload, err := json.Marshal(installState{Shop: shop, Expires: s.now().Add(StateTTL).Unix(),
		Nonce: base64.RawURLEncoding.EncodeToString(nonce)})
	if err != nil {
		return "", fmt.Errorf("install state: %w", err)
	}
	state := base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(s.stateMAC(payload))
	return s.grants.AuthorizeURL(shop, s.app.ClientID, s.app.Scopes, strings.TrimRight(publicURL, "/")+"/shopify/callback", state), nil
}

// Callback checks what Shopify sent back to /shopify/callback: the query's hmac (signed
// with the app's secret), a state this deployment issued for this very shop and not
// expired, a fresh timestamp, a valid shop domain. It returns the shop and the code. Every
// refusal is a BadRequest that says which check failed, and nothing is written.
func (s *Store) Callback(q url.Values) (shop, code string, err error) {
	if s.app.ClientID == "" {
		return "", "", apperr.NotFoundf("this deployment has no Shopify app (SHOPIFY_APP_CLIENT_ID, SHOPIFY_APP_CLIENT_SECRET, PUBLIC_URL)")
	}
	if !shopify.VerifyQueryHMAC(q, s.app.ClientSecret) {
		return "", "", apperr.BadRequestf("the callback's hmac does not verify with this app's secret")
	}
	shop = q.Get("shop")
	if !shopify.ValidShop(shop) {
		return "", "", apperr.BadRequestf("shop %q is not a shop's myshopify.com domain", clip(shop))
	}
	now := s.now()
	ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
	if err != nil || now.Sub(time.Unix(ts, 0)).Abs() > StateTTL {
		return "", "", apperr.BadRequestf("the callback's timestamp is missing or more than %v away: start the install again", StateTTL)
	}
	payloadB64, macB64, ok := strings.Cut(q.Get("state"), ".")
	payload, err1 := base64.RawURLEncoding.DecodeString(payloadB64)
	mac, err2 := base64.RawURLEncoding.DecodeString(macB64)
	var st installState
	if !ok || err1 != nil || err2 != nil || !hmac.Equal(mac, s.stateMAC(payload)) || json.Unmarshal(payload, &st) != nil {
		return "", "", apperr.BadRequestf("the callback's state was not issued by this deployment")
	}
	if st.Shop != shop {
		return "", "", apperr.BadRequestf("the callback's state was issued for another shop")
	}
	if now.Unix() > st.Expires {
		return "", "", apperr.BadRequestf("the install took longer than %v: start it again", StateTTL)
	}
	code = q.Get("code")
	if code == "" || len(code) > maxSecretChars {
		return "", "", apperr.BadRequestf("the callback has no code")
	}
	return shop, code, nil
}

// Exchange trades the callback's code for the shop's expiring offline tokens.
func (s *Store) Exchange(ctx context.Context, shop, code string) (shopify.Token, error) {
	tok, err := s.grants.ExchangeCode(ctx, shop, s.app.ClientID, s.app.ClientSecret, code)
	if err != nil {
		return shopify.Token{}, fmt.Errorf("exchange the install's code with %s: %w", shop, err)
	}
	return tok, nil
}

// ShopClient is the client a shop's connection belongs to, "" when no client has it.
func (s *Store) ShopClient(ctx context.Context, shop string) (clientID, auth string, err error) {
	c, err := s.get(ctx, s.pool, sqlByShop, pgx.StrictNamedArgs{"shop": strings.ToLower(shop)})
	if apperr.KindOf(err) == apperr.NotFound {
		return "", "", nil
	}
	return c.ClientID, c.Auth, err
}

// CreateInstalled stores the connection of a client the install made, with its tokens,
// inside the transaction that makes the client.
func (s *Store) CreateInstalled(ctx context.Context, tx pgx.Tx, clientID, shop string, tok shopify.Token) error {
	auth := AuthOAuth
	if err := s.Create(ctx, tx, clientID, shop, NewConnection{Auth: &auth}); err != nil {
		return err
	}
	return s.saveTokens(ctx, tx, clientID, tok)
}

// Installed stores a (re)install's tokens on an existing oauth connection: a client made
// beforehand for the shop (pending) or one the merchant had uninstalled. Its held rows go
// out at the next claim.
func (s *Store) Installed(ctx context.Context, clientID string, tok shopify.Token) error {
	return db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := s.get(ctx, tx, sqlLockGet, pgx.StrictNamedArgs{"client_id": clientID})
		if err != nil {
			return err
		}
		if c.Auth != AuthOAuth {
			return apperr.Conflictf("shop %s is connected by %s, not by this app: change the client's shopify_auth first", c.Shop, c.Auth)
		}
		if err := s.saveTokens(ctx, tx, clientID, tok); err != nil {
			return err
		}
		return resume(ctx, tx, clientID)
	})
}

// Topics returns the webhook topics tiersync subscribes a shop to. The privacy topics
// (customers/data_request, customers/redact, shop/redact) are not among them: Shopify
// takes those only from the app's configuration (docs/crm-assumptions.md).
func Topics() []string { return []string{"orders/paid", "orders/create", "app/uninstalled"} }

// RegisterWebhooks makes sure the client's shop sends Topics to publicURL/webhooks/shopify
// (reading the existing subscriptions first: running it again creates nothing) and returns
// the topics it subscribed now.
func (s *Store) RegisterWebhooks(ctx context.Context, clientID, publicURL string) ([]string, error) {
	if publicURL == "" {
		return nil, apperr.Invalidf("PUBLIC_URL is not set: Shopify would have nowhere to send the webhooks")
	}
	c, err := s.get(ctx, s.pool, sqlGet, pgx.StrictNamedArgs{"client_id": clientID})
	if apperr.KindOf(err) == apperr.NotFound {
		return nil, apperr.NotFoundf("no shopify client %s", clientID)
	}
	if err != nil {
		return nil, err
	}
	p := s.grants.ProviderWith(clientID, c.Shop, s.Tokens(clientID))
	created, err := p.EnsureWebhooks(ctx, strings.TrimRight(publicURL, "/")+"/webhooks/shopify", Topics())
	if err != nil {
		return nil, fmt.Errorf("register the webhooks of %s: %w", c.Shop, err)
	}
	return created, nil
}

// Uninstalled records app/uninstalled: tokens deleted, the client's rows held (pending,
// no attempt spent) until a reinstall.
func (s *Store) Uninstalled(ctx context.Context, clientID string) error {
	if _, err := s.pool.Exec(ctx, sqlSetUninstalled, pgx.StrictNamedArgs{"client_id": clientID, "now": s.now()}); err != nil {
		return fmt.Errorf("record the uninstall of client %s: %w", clientID, err)
	}
	return nil
}
