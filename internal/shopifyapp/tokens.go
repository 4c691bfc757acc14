package shopifyapp

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/crm"
	"tiersync/internal/crm/shopify"
	"tiersync/internal/db"
	"tiersync/internal/membership"
	"tiersync/internal/queue"
)

// Grants is Shopify's token endpoint (*shopify.Client).
type Grants interface {
	ClientCredentialsToken(ctx context.Context, shop, clientID, clientSecret string) (shopify.Token, error)
	RefreshToken(ctx context.Context, shop, clientID, clientSecret, refreshToken string) (shopify.Token, error)
	ExchangeCode(ctx context.Context, shop, clientID, clientSecret, code string) (shopify.Token, error)
	AuthorizeURL(shop, clientID string, scopes []string, redirectURI, state string) string
	ProviderWith(clientID, shop string, tokens shopify.Tokens) *shopify.Provider
}

// Early is at most how long before its expiry a token is renewed: a call made with it then
// still has minutes to finish, and a replica whose clock is a little ahead does not send a
// dead one. A short-lived token is renewed when a fifth of its life is left (renewAt).
const Early = 5 * time.Minute

// renewAt is when to ask for the token after tok: a fifth of its life before it ends, at
// most Early before (a 24 h token at 23h55, a 60 min one at 55 min, a 4 s one at 3.2 s).
func renewAt(now time.Time, tok shopify.Token) time.Time {
	if tok.ExpiresAt.IsZero() {
		return time.Time{}
	}
	life := tok.ExpiresAt.Sub(now)
	return tok.ExpiresAt.Add(-min(Early, max(life/5, 0)))
}

// How long a client's rows wait when its shop cannot give a token: a failing token
// request is retried this often (one request per shop, not one per row), an uninstalled or
// not yet installed shop is looked at again this often (a database read, no request). A
// reinstall resumes the rows at once (queue.Resume); the recheck bounds the wait of a row
// whose attempt was still in flight at that moment and came back held after it.
const (
	retryFailingEvery = 2 * time.Minute
	recheckHeldEvery  = 15 * time.Second
)

// Tokens returns the shopify.Tokens of one client: its current access token, renewed ahead
// of expiry and once after a 401. A shop that cannot give a token (uninstalled, not yet
// installed, a refused refresh) answers a crm.Throttled error: the row goes back to pending
// without spending an attempt and the client's bucket pauses, so its rows wait together
// instead of failing one by one; the connection's state says why.
func (s *Store) Tokens(clientID string) shopify.Tokens { return &tokens{s: s, clientID: clientID} }

type tokens struct {
	s        *Store
	clientID string
}

func (t *tokens) Token(ctx context.Context) (string, error) {
	c, err := t.s.get(ctx, t.s.pool, sqlGet, pgx.StrictNamedArgs{"client_id": t.clientID})
	if err != nil {
		return "", retryable(err)
	}
	if err := held(c); err != nil {
		return "", err
	}
	if c.Access != nil && t.fresh(c) {
		token, err := t.s.open(c, c.Access, "access token")
		if err != nil {
			return "", retryable(err)
		}
		return token, nil
	}
	return t.renew(ctx, "")
}

func (t *tokens) Renew(ctx context.Context, refused string) (string, error) {
	return t.renew(ctx, refused)
}

// fresh says the stored token need not be renewed yet.
func (t *tokens) fresh(c conn) bool {
	return c.AccessRenew == nil || t.s.now().Before(*c.AccessRenew)
}

// renew asks Shopify for a new token under the connection's row lock, so that of several
// replicas (or workers) needing one at once, one asks and the others use its answer: a
// refresh token rotates, and two refreshes with the same one would leave one of them dead.
// refused is the token Shopify just answered 401 to ("" when the stored one is expiring).
func (t *tokens) renew(ctx context.Context, refused string) (string, error) {
	var token string
	var heldErr error
	err := db.InTx(ctx, t.s.pool, func(tx pgx.Tx) error {
		c, err := t.s.get(ctx, tx, sqlLockGet, pgx.StrictNamedArgs{"client_id": t.clientID})
		if err != nil {
			return err
		}
		if heldErr = held(c); heldErr != nil {
			return nil
		}
		current, err := t.s.open(c, c.Access, "access token")
		if err != nil {
			return err
		}
		if current != "" && current != refused && t.fresh(c) {
			token = current // renewed by another replica while this one waited for the lock
			return nil
		}
		tok, why := t.grant(ctx, c)
		if why != "" {
			heldErr = &crm.Error{Class: crm.Throttled, CRM: "shopify", Op: "get access token", RetryAfter: retryFailingEvery,
				Message: why}
			state := StateRefreshFailing
			if c.State == StateUninstalled {
				state = StateUninstalled // still gone: say why the token request failed, keep the state
			}
			return t.s.setState(ctx, tx, c.ClientID, state, why)
		}
		token = tok.AccessToken
		if err := t.s.saveTokens(ctx, tx, c.ClientID, tok); err != nil {
			return err
		}
		if c.State != StateConnected {
			return resume(ctx, tx, c.ClientID)
		}
		return nil
	})
	if err != nil {
		return "", retryable(fmt.Errorf("renew the access token: %w", err))
	}
	if heldErr != nil {
		return "", heldErr
	}
	return token, nil
}

// grant asks the token endpoint for a new token by the connection's way; why is what
// went wrong, for the operator ("" on success). Messages never quote a secret: the CRM
// errors are built from Shopify's error fields, cleaned.
func (t *tokens) grant(ctx context.Context, c conn) (shopify.Token, string) {
	switch c.Auth {
	case AuthClientCredentials:
		secret, err := t.s.open(c, c.AppSecret, "client secret")
		if err != nil {
			return shopify.Token{}, err.Error()
		}
		tok, err := t.s.grants.ClientCredentialsToken(ctx, c.Shop, deref(c.AppClientID), secret)
		if err != nil {
			return shopify.Token{}, "the client credentials grant failed: " + err.Error() +
				" (check the app's client id and secret, that the app is installed on the shop, and its scopes)"
		}
		return tok, ""
	case AuthOAuth:
		refresh, err := t.s.open(c, c.Refresh, "refresh token")
		if err != nil {
			return shopify.Token{}, err.Error()
		}
		if refresh == "" || (c.RefreshExpires != nil && !t.s.now().Before(*c.RefreshExpires)) {
			return shopify.Token{}, "the access token expired and there is no live refresh token: " +
				"the merchant must open the app again (GET /shopify/install?shop=" + c.Shop + ")"
		}
		tok, err := t.s.grants.RefreshToken(ctx, c.Shop, t.s.app.ClientID, t.s.app.ClientSecret, refresh)
		if err != nil {
			return shopify.Token{}, "refreshing the access token failed: " + err.Error()
		}
		return tok, ""
	default:
		return shopify.Token{}, "Shopify refused the stored access token (a static token cannot be renewed): " +
			"rotate it with PATCH /api/clients/" + c.ClientID + " {\"shopify_access_token\": …}"
	}
}

// held is the error of a connection that cannot give a token now, nil when it can. A
// client_credentials app reinstalled in the shop's admin tells tiersync nothing: its
// uninstalled connection is not held, and the next token request (one per shop every
// retryFailingEvery, while it fails) finds out.
func held(c conn) error {
	var why string
	switch {
	case c.State == StateUninstalled && c.Auth == AuthClientCredentials:
		return nil
	case c.State == StateUninstalled:
		why = fmt.Sprintf("the app was uninstalled from %s (%s): the client's rows wait for a reinstall",
			c.Shop, c.StateChangedAt.UTC().Format(time.RFC3339))
	case c.State == StatePending:
		why = fmt.Sprintf("the app is not installed on %s yet: the client's rows wait for the merchant to install it "+
			"(GET /shopify/install?shop=%s)", c.Shop, c.Shop)
	default:
		return nil
	}
	return &crm.Error{Class: crm.Throttled, CRM: "shopify", Op: "get access token", RetryAfter: recheckHeldEvery, Message: why}
}

func (s *Store) setState(ctx context.Context, q db.Querier, clientID, state, why string) error {
	var reason *string
	if why != "" {
		reason = &why
	}
	_, err := q.Exec(ctx, sqlSetState, pgx.StrictNamedArgs{"client_id": clientID, "state": state, "state_error": reason, "now": s.now()})
	if err != nil {
		return fmt.Errorf("set shopify connection state: %w", err)
	}
	return nil
}

// saveTokens seals and stores a token answer; the connection is connected again.
func (s *Store) saveTokens(ctx context.Context, q db.Querier, clientID string, tok shopify.Token) error {
	seal := func(v string) ([]byte, error) {
		if v == "" {
			return nil, nil
		}
		return s.box.Seal([]byte(v), []byte(clientID))
	}
	access, err := seal(tok.AccessToken)
	if err != nil {
		return err
	}
	refresh, err := seal(tok.RefreshToken)
	if err != nil {
		return err
	}
	var scopes *string
	if tok.Scope != "" {
		scopes = &tok.Scope
	}
	_, err = q.Exec(ctx, sqlSaveTokens, pgx.StrictNamedArgs{"client_id": clientID, "access_token_enc": access,
		"access_expires_at": timeOrNil(tok.ExpiresAt), "access_renew_at": timeOrNil(renewAt(s.now(), tok)), "refresh_token_enc": refresh,
		"refresh_expires_at": timeOrNil(tok.RefreshExpiresAt), "scopes": scopes, "now": s.now()})
	if err != nil {
		return fmt.Errorf("store the shop's tokens: %w", err)
	}
	return nil
}

func retryable(err error) error {
	if _, ok := err.(*crm.Error); ok {
		return err
	}
	return &crm.Error{Class: crm.Retryable, CRM: "shopify", Op: "get access token", Message: err.Error(), Err: err}
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// resume lets a client's held rows go now: while its shop could not give a token they were
// throttled and its bucket paused; the connection works again.
func resume(ctx context.Context, q db.Querier, clientID string) error {
	_, err := queue.Resume(ctx, q, membership.RateKey(clientID))
	return err
}
