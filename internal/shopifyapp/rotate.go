package shopifyapp

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/apperr"
)

// Credential rotation (PATCH /api/clients/{client_id}): new credentials for the way a shop
// is connected, or another way. It runs in the transaction that updates the client, under
// the connection's row lock, so a token renewal running at the same time (which holds the
// same lock) either finishes with the old credentials before it, or waits and then sees
// the new ones.

// Rotated says what a rotation changed: the fields, for the audit log (never a value).
type Rotated struct {
	Auth   string   // the way after the rotation
	Fields []string // the request's fields that changed something, in a stable order
}

// Rotate replaces a Shopify client's credentials. in carries what PATCH brought (the same
// fields as POST /api/clients; nil: not sent):
//
//   - without Auth, the fields of the connection's current way, each optional: a
//     client_credentials connection takes shopify_client_id and/or shopify_client_secret,
//     a token connection shopify_access_token and/or shopify_webhook_secret; the field not
//     sent is kept. An oauth connection has nothing to rotate (its tokens come from the
//     install).
//   - with Auth, the way and everything it needs, as at creation (NewConnection.Validate);
//     what the old way held and the new one does not use is deleted. oauth leaves the
//     connection pending until the merchant installs the app.
//
// New credentials that get tokens (a client id or secret, an access token, another way)
// clear a failing state: the connection is connected again (pending for oauth), and an
// access token the old credentials had obtained is dropped, so the next call asks for a
// new one with the new credentials instead of using a token that may stop working. A new
// webhook secret alone changes nothing else. A connection connected again resumes the
// client's held rows (queue.Resume). A refused field is Invalid and nothing is
// written (the caller's transaction rolls back).
func (s *Store) Rotate(ctx context.Context, tx pgx.Tx, clientID string, in NewConnection) (Rotated, error) {
	if s.box == nil {
		return Rotated{}, apperr.Invalidf("this deployment cannot store Shopify credentials (no TIERSYNC_SECRET_KEY)")
	}
	c, err := s.get(ctx, tx, sqlLockGet, pgx.StrictNamedArgs{"client_id": clientID})
	if apperr.KindOf(err) == apperr.NotFound {
		return Rotated{}, apperr.NotFoundf("no shopify connection for client %s", clientID)
	}
	if err != nil {
		return Rotated{}, err
	}
	fields, err := in.validateRotation(c.Auth, s.app)
	if err != nil {
		return Rotated{}, err
	}
	seal := func(v string) ([]byte, error) {
		sealed, err := s.box.Seal([]byte(v), []byte(clientID))
		if err != nil {
			return nil, fmt.Errorf("rotate the credentials of shop %s: %w", c.Shop, err)
		}
		return sealed, nil
	}
	n := c // the row after the rotation, starting from the row before it
	scopes := &c.Scopes
	if c.Scopes == "" {
		scopes = nil
	}
	dropTokens := func() {
		n.Access, n.AccessExpires, n.AccessRenew, n.Refresh, n.RefreshExpires, scopes = nil, nil, nil, nil, nil, nil
	}
	reconnect := func(state string) { n.State, n.StateError = state, "" }
	auth := c.Auth
	if in.Auth != nil {
		auth = *in.Auth
	}
	n.Auth = auth
	switch auth {
	case AuthClientCredentials:
		if auth != c.Auth {
			n.WebhookSecret = nil // only a token connection keeps its own webhook secret
		}
		if in.ClientID != nil {
			n.AppClientID = in.ClientID
		}
		if in.ClientSecret != nil {
			if n.AppSecret, err = seal(*in.ClientSecret); err != nil {
				return Rotated{}, err
			}
		}
		// The stored token was granted to the old app: the next call asks the new one.
		dropTokens()
		reconnect(StateConnected)
	case AuthToken:
		if auth != c.Auth {
			dropTokens()
			n.AppClientID, n.AppSecret = nil, nil
		}
		if in.AccessToken != nil {
			if n.Access, err = seal(*in.AccessToken); err != nil {
				return Rotated{}, err
			}
			// A static token does not expire; scopes are what the old token was granted.
			n.AccessExpires, n.AccessRenew, n.Refresh, n.RefreshExpires, scopes = nil, nil, nil, nil, nil
			reconnect(StateConnected)
		}
		if in.WebhookSecret != nil {
			if n.WebhookSecret, err = seal(*in.WebhookSecret); err != nil {
				return Rotated{}, err
			}
		}
	case AuthOAuth:
		dropTokens()
		n.AppClientID, n.AppSecret, n.WebhookSecret = nil, nil, nil
		reconnect(StatePending)
	}
	var stateError *string
	if n.StateError != "" {
		stateError = &n.StateError
	}
	_, err = tx.Exec(ctx, sqlRotate, pgx.StrictNamedArgs{
		"client_id": clientID, "auth": n.Auth, "app_client_id": n.AppClientID, "app_client_secret_enc": n.AppSecret,
		"access_token_enc": n.Access, "access_expires_at": n.AccessExpires, "access_renew_at": n.AccessRenew,
		"refresh_token_enc": n.Refresh, "refresh_expires_at": n.RefreshExpires, "scopes": scopes,
		"webhook_secret_enc": n.WebhookSecret, "state": n.State, "state_error": stateError, "now": s.now(),
	})
	if err != nil {
		return Rotated{}, fmt.Errorf("rotate the credentials of shop %s: %w", c.Shop, err)
	}
	if c.State != StateConnected && n.State == StateConnected {
		// The rows the failing connection held back (throttled, the bucket paused) go now,
		// with the commit, instead of at the end of their wait.
		if err := resume(ctx, tx, clientID); err != nil {
			return Rotated{}, fmt.Errorf("rotate the credentials of shop %s: %w", c.Shop, err)
		}
	}
	return Rotated{Auth: auth, Fields: fields}, nil
}

// validateRotation checks a rotation against the connection's current way and returns the
// fields it changes. Values are trimmed and checked as at creation.
func (in *NewConnection) validateRotation(current string, app App) ([]string, error) {
	if in.Auth != nil {
		// Another way (or the same one, afresh): everything it needs, as at creation.
		if err := in.Validate(app); err != nil {
			return nil, err
		}
		return in.sent(), nil
	}
	// Validate's checks of each value, without its defaulting of the way.
	probe := *in
	probe.Auth = &current
	switch current {
	case AuthClientCredentials:
		if in.AccessToken != nil || in.WebhookSecret != nil {
			return nil, apperr.Invalidf("shopify_access_token, shopify_webhook_secret: not used with shopify_auth %q "+
				"(send shopify_auth to change the way the shop is connected)", current)
		}
		// Validate needs both: fill the one not sent with a placeholder it accepts.
		keep := "kept"
		if probe.ClientID == nil {
			probe.ClientID = &keep
		}
		if probe.ClientSecret == nil {
			probe.ClientSecret = &keep
		}
	case AuthToken:
		if in.ClientID != nil || in.ClientSecret != nil {
			return nil, apperr.Invalidf("shopify_client_id, shopify_client_secret: not used with shopify_auth %q "+
				"(send shopify_auth to change the way the shop is connected)", current)
		}
		keep := "kept"
		if probe.AccessToken == nil {
			probe.AccessToken = &keep
		}
		if probe.WebhookSecret == nil {
			probe.WebhookSecret = &keep
		}
	case AuthOAuth:
		return nil, apperr.Invalidf("an oauth connection's tokens come from the merchant's install: there are no " +
			"credentials to rotate (send shopify_auth to change the way the shop is connected)")
	}
	if err := probe.Validate(app); err != nil {
		return nil, err
	}
	// Validate trimmed the probe's copies: keep the trimmed values that were sent.
	for _, p := range []struct{ dst, src **string }{{&in.ClientID, &probe.ClientID}, {&in.ClientSecret, &probe.ClientSecret},
		{&in.AccessToken, &probe.AccessToken}, {&in.WebhookSecret, &probe.WebhookSecret}} {
		if *p.dst != nil {
			*p.dst = *p.src
		}
	}
	return in.sent(), nil
}

// sent names the fields that were sent, in the API's order.
func (in NewConnection) sent() []string {
	var out []string
	for _, f := range []struct {
		name string
		p    *string
	}{{"shopify_auth", in.Auth}, {"shopify_client_id", in.ClientID}, {"shopify_client_secret", in.ClientSecret},
		{"shopify_access_token", in.AccessToken}, {"shopify_webhook_secret", in.WebhookSecret}} {
		if f.p != nil {
			out = append(out, f.name)
		}
	}
	return out
}

// StatusesOf lists the connections of the given clients (clients without one, such as
// Commerce7's, are left out).
func (s *Store) StatusesOf(ctx context.Context, clientIDs []string) ([]Status, error) {
	if len(clientIDs) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, sqlListStatesOf, pgx.StrictNamedArgs{"client_ids": clientIDs})
	if err != nil {
		return nil, fmt.Errorf("list shopify connections: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Status, error) {
		var st Status
		err := r.Scan(&st.ClientID, &st.Shop, &st.Auth, &st.State, &st.Error, &st.Since, &st.TokenExpiresAt)
		st.Since = st.Since.UTC()
		if st.TokenExpiresAt != nil {
			utc := st.TokenExpiresAt.UTC()
			st.TokenExpiresAt = &utc
		}
		return st, err
	})
	if err != nil {
		return nil, fmt.Errorf("list shopify connections: %w", err)
	}
	return out, nil
}
