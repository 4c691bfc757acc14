package membership

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed" // the queries in sql/
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/apperr"
)

// The statements that read and replace a client's webhook credentials (sql/, as queries.go
// explains).
var (
	//go:embed sql/client_rotate_webhook_credentials.sql
	sqlClientRotateWebhookCredentials string
	//go:embed sql/client_webhook_credentials.sql
	sqlClientWebhookCredentials string
)

// How a Commerce7 client's webhooks authenticate (Client.WebhookAuth).
const (
	// WebhookAuthOwn: the client's own pair, made with it or by a rotation.
	WebhookAuthOwn = "own"
	// WebhookAuthGlobal: the client was made before per-client credentials, and the global
	// COMMERCE7_WEBHOOK_USER/_PASSWORD still serves it (deprecated) until it is rotated.
	WebhookAuthGlobal = "global_deprecated"
)

// WebhookCredentials are the Basic auth pair a winery pastes into Commerce7's webhook
// settings. They exist in clear only in the answer that made them.
type WebhookCredentials struct {
	User     string `json:"webhook_user"`
	Password string `json:"webhook_password"`
}

// ClientWithCredentials is a client and, when just made or rotated, its new webhook
// credentials (nil otherwise, and for Shopify). In JSON the pair's fields sit beside the
// client's.
type ClientWithCredentials struct {
	Client
	*WebhookCredentials
}

// newWebhookCredentials makes a pair and the SHA-256 of its password, which is what is
// stored. The password is 256 random bits: nobody can guess it, so a fast hash loses
// nothing against a slow one (bcrypt, argon2), which would only cost every webhook CPU
// time. The user name is random too, so that a rotation changes both halves.
func newWebhookCredentials() (WebhookCredentials, []byte, error) {
	user := make([]byte, 12)
	pass := make([]byte, 32)
	if _, err := rand.Read(user); err != nil {
		return WebhookCredentials{}, nil, fmt.Errorf("webhook credentials: %w", err)
	}
	if _, err := rand.Read(pass); err != nil {
		return WebhookCredentials{}, nil, fmt.Errorf("webhook credentials: %w", err)
	}
	c := WebhookCredentials{
		User:     "c7hook-" + base64.RawURLEncoding.EncodeToString(user),
		Password: base64.RawURLEncoding.EncodeToString(pass),
	}
	hash := sha256.Sum256([]byte(c.Password))
	return c, hash[:], nil
}

// RotateWebhookCredentials gives a Commerce7 client a new webhook pair and returns it with
// the client; the old pair (or, for a legacy client, the global pair) stops working at
// once. Shopify clients have none: Invalid.
func (s *Store) RotateWebhookCredentials(ctx context.Context, clientID string) (ClientWithCredentials, error) {
	c, err := s.GetClient(ctx, clientID)
	if err != nil {
		return ClientWithCredentials{}, err
	}
	if c.CRMType != CRMCommerce7 {
		return ClientWithCredentials{}, apperr.Invalidf("client %s is a %s client: only Commerce7 clients have webhook credentials (Shopify signs its webhooks)", c.ID, c.CRMType)
	}
	creds, hash, err := newWebhookCredentials()
	if err != nil {
		return ClientWithCredentials{}, err
	}
	row := s.pool.QueryRow(ctx, sqlClientRotateWebhookCredentials, pgx.StrictNamedArgs{
		"id": c.ID, "webhook_user": creds.User, "webhook_password_hash": hash,
	})
	c, err = scanClientRow(row)
	if errors.Is(err, pgx.ErrNoRows) { // deleted since GetClient
		return ClientWithCredentials{}, apperr.NotFoundf("client %s not found", clientID)
	}
	if err != nil {
		return ClientWithCredentials{}, fmt.Errorf("rotate webhook credentials of client %s: %w", clientID, err)
	}
	return ClientWithCredentials{Client: c, WebhookCredentials: &creds}, nil
}

// WebhookAuthResult is what MatchWebhookCredentials found.
type WebhookAuthResult int

const (
	// WebhookAuthWrong: the client has credentials of its own and these are not them.
	WebhookAuthWrong WebhookAuthResult = iota
	// WebhookAuthMatched: they are the client's own credentials.
	WebhookAuthMatched
	// WebhookAuthLegacy: the client has no credentials of its own (made before them); only
	// the global pair, which the caller holds, may authenticate its webhooks.
	WebhookAuthLegacy
)

// MatchWebhookCredentials checks a Basic auth pair against a Commerce7 client's own
// webhook credentials. Both halves are compared as SHA-256 hashes in constant time
// (comparing raw strings would leak their lengths), and an empty password never matches.
func (s *Store) MatchWebhookCredentials(ctx context.Context, clientID, user, pass string) (WebhookAuthResult, error) {
	if err := CheckUUID("client_id", clientID); err != nil {
		return WebhookAuthWrong, err
	}
	var wantUser *string
	var wantHash []byte
	err := s.pool.QueryRow(ctx, sqlClientWebhookCredentials, pgx.StrictNamedArgs{"id": clientID}).Scan(&wantUser, &wantHash)
	if errors.Is(err, pgx.ErrNoRows) {
		return WebhookAuthWrong, apperr.NotFoundf("no commerce7 client %s", clientID)
	}
	if err != nil {
		return WebhookAuthWrong, fmt.Errorf("read webhook credentials of client %s: %w", clientID, err)
	}
	if wantUser == nil {
		return WebhookAuthLegacy, nil
	}
	u, wu := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(*wantUser))
	p := sha256.Sum256([]byte(pass))
	if pass != "" && subtle.ConstantTimeCompare(u[:], wu[:])&subtle.ConstantTimeCompare(p[:], wantHash) == 1 {
		return WebhookAuthMatched, nil
	}
	return WebhookAuthWrong, nil
}
