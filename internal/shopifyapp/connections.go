// Package shopifyapp is tiersync as a Shopify app: it OWNS shopify_connections, how each
// Shopify client gets its shop's access token (client credentials, OAuth with expiring and
// rotating tokens, or a legacy static token), the connection's state, and the secret that
// signs the shop's webhooks. The CRM calls themselves are internal/crm/shopify's; this
// package hands them a token (Tokens) and keeps it fresh.
package shopifyapp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/apperr"
	"tiersync/internal/crm/shopify"
	"tiersync/internal/db"
	"tiersync/internal/secretbox"
)

// The three ways to connect a shop (shopify_auth, DESIGN §2 and §4).
const (
	AuthClientCredentials = "client_credentials"
	AuthOAuth             = "oauth"
	AuthToken             = "token"
)

// Connection states.
const (
	StateConnected      = "connected"
	StateRefreshFailing = "refresh_failing"
	StateUninstalled    = "uninstalled"
	StatePending        = "pending"
)

// App is this deployment's own Shopify app (SHOPIFY_APP_CLIENT_ID, _SECRET, _SCOPES), the
// one merchants install (oauth). Empty when none is configured.
type App struct {
	ClientID     string
	ClientSecret string
	Scopes       []string
}

// Store reads and writes shopify_connections.
type Store struct {
	pool   *pgxpool.Pool
	box    *secretbox.Box
	grants Grants
	app    App
	now    func() time.Time
}

// Config builds a Store.
type Config struct {
	Pool   *pgxpool.Pool
	Box    *secretbox.Box // nil: no TIERSYNC_SECRET_KEY, nothing can be sealed or opened
	Grants Grants         // the token endpoint (*shopify.Client)
	App    App
	Now    func() time.Time // nil: time.Now
}

// New makes a Store.
func New(cfg Config) *Store {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Store{pool: cfg.Pool, box: cfg.Box, grants: cfg.Grants, app: cfg.App, now: cfg.Now}
}

// App is this deployment's own app (its secret included: the install flow signs with it).
func (s *Store) App() App { return s.app }

// NewConnection is what POST /api/clients brings for a Shopify client. Pointers tell
// "absent" from "empty".
type NewConnection struct {
	Auth          *string // default: token when an access token is given, else client_credentials
	ClientID      *string // client_credentials
	ClientSecret  *string // client_credentials
	AccessToken   *string // token
	WebhookSecret *string // token
}

// Given reports whether any Shopify credential field was sent (a Commerce7 client must
// send none).
func (in NewConnection) Given() bool {
	return in.Auth != nil || in.ClientID != nil || in.ClientSecret != nil || in.AccessToken != nil || in.WebhookSecret != nil
}

// maxSecretChars bounds every credential field: Shopify's are far shorter.
const maxSecretChars = 512

// Validate checks the fields a way of connecting needs, and refuses those it does not
// use (a secret sent where it would be ignored is a mistake the operator should hear of).
func (in *NewConnection) Validate(app App) error {
	auth := ""
	switch {
	case in.Auth != nil:
		auth = *in.Auth
	case in.AccessToken != nil:
		auth = AuthToken
	default:
		auth = AuthClientCredentials
	}
	in.Auth = &auth
	has := func(p *string) bool { return p != nil && strings.TrimSpace(*p) != "" }
	for name, p := range map[string]*string{"shopify_client_id": in.ClientID, "shopify_client_secret": in.ClientSecret,
		"shopify_access_token": in.AccessToken, "shopify_webhook_secret": in.WebhookSecret} {
		if p == nil {
			continue
		}
		*p = strings.TrimSpace(*p)
		if len(*p) > maxSecretChars || strings.ContainsFunc(*p, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
			return apperr.Invalidf("%s must be at most %d printable ASCII characters", name, maxSecretChars)
		}
	}
	refuse := func(fields ...string) error {
		return apperr.Invalidf("%s: not used with shopify_auth %q", strings.Join(fields, ", "), auth)
	}
	switch auth {
	case AuthClientCredentials:
		if !has(in.ClientID) || !has(in.ClientSecret) {
			return apperr.Invalidf("shopify_auth client_credentials needs shopify_client_id and shopify_client_secret " +
				"(the Dev Dashboard app's Settings page shows both)")
		}
		if in.AccessToken != nil || in.WebhookSecret != nil {
			return refuse("shopify_access_token", "shopify_webhook_secret")
		}
	case AuthToken:
		if !has(in.AccessToken) || !has(in.WebhookSecret) {
			return apperr.Invalidf("shopify_auth token needs shopify_access_token (the Admin API access token) and " +
				"shopify_webhook_secret (the secret the app signs webhooks with)")
		}
		if in.ClientID != nil || in.ClientSecret != nil {
			return refuse("shopify_client_id", "shopify_client_secret")
		}
	case AuthOAuth:
		if app.ClientID == "" {
			return apperr.Invalidf("shopify_auth oauth needs this deployment's app: set SHOPIFY_APP_CLIENT_ID, " +
				"SHOPIFY_APP_CLIENT_SECRET, SHOPIFY_APP_SCOPES and PUBLIC_URL")
		}
		if in.ClientID != nil || in.ClientSecret != nil || in.AccessToken != nil || in.WebhookSecret != nil {
			return refuse("shopify_client_id", "shopify_client_secret", "shopify_access_token", "shopify_webhook_secret")
		}
	default:
		return apperr.Invalidf("shopify_auth %q is not one of client_credentials, oauth, token", auth)
	}
	return nil
}

// Create stores a new client's connection inside the transaction that makes the client,
// every secret sealed with the client's id as additional data. An oauth client made before
// the merchant installed the app waits (pending) for the install's callback.
func (s *Store) Create(ctx context.Context, tx pgx.Tx, clientID, shop string, in NewConnection) error {
	if s.box == nil {
		return errors.New("create shopify connection: no TIERSYNC_SECRET_KEY to encrypt its secrets")
	}
	seal := func(p *string) ([]byte, error) {
		if p == nil {
			return nil, nil
		}
		return s.box.Seal([]byte(*p), []byte(clientID))
	}
	secret, err := seal(in.ClientSecret)
	if err != nil {
		return err
	}
	token, err := seal(in.AccessToken)
	if err != nil {
		return err
	}
	hook, err := seal(in.WebhookSecret)
	if err != nil {
		return err
	}
	state := StateConnected
	if *in.Auth == AuthOAuth {
		state = StatePending
	}
	_, err = tx.Exec(ctx, sqlInsert, pgx.StrictNamedArgs{
		"client_id": clientID, "shop": strings.ToLower(shop), "auth": *in.Auth, "app_client_id": in.ClientID,
		"app_client_secret_enc": secret, "access_token_enc": token, "access_expires_at": nil, "access_renew_at": nil,
		"refresh_token_enc": nil, "refresh_expires_at": nil, "scopes": nil, "webhook_secret_enc": hook, "state": state,
	})
	if name, ok := db.UniqueViolation(err); ok && name == "shopify_connections_shop_key" {
		return apperr.Conflictf("shop %s is connected to another client already", shop)
	}
	if err != nil {
		return fmt.Errorf("create shopify connection of %s: %w", shop, err)
	}
	return nil
}

// conn is a connection row, secrets still sealed.
type conn struct {
	ClientID, Shop, Auth string
	AppClientID          *string
	AppSecret            []byte
	Access               []byte
	AccessExpires        *time.Time
	AccessRenew          *time.Time
	Refresh              []byte
	RefreshExpires       *time.Time
	Scopes               string
	WebhookSecret        []byte
	State, StateError    string
	StateChangedAt       time.Time
}

func scanConn(row pgx.Row) (conn, error) {
	var c conn
	err := row.Scan(&c.ClientID, &c.Shop, &c.Auth, &c.AppClientID, &c.AppSecret, &c.Access, &c.AccessExpires,
		&c.AccessRenew, &c.Refresh, &c.RefreshExpires, &c.Scopes, &c.WebhookSecret, &c.State, &c.StateError, &c.StateChangedAt)
	return c, err
}

func (s *Store) get(ctx context.Context, q db.Querier, sql string, args pgx.StrictNamedArgs) (conn, error) {
	c, err := scanConn(q.QueryRow(ctx, sql, args))
	if errors.Is(err, pgx.ErrNoRows) {
		return conn{}, apperr.NotFoundf("no shopify connection for %v", args)
	}
	if err != nil {
		return conn{}, fmt.Errorf("read shopify connection: %w", err)
	}
	return c, nil
}

// open decrypts one sealed field of the connection ("" when it is null).
func (s *Store) open(c conn, sealed []byte, what string) (string, error) {
	if sealed == nil {
		return "", nil
	}
	if s.box == nil {
		return "", fmt.Errorf("open the %s of shop %s: no TIERSYNC_SECRET_KEY", what, c.Shop)
	}
	plain, err := s.box.Open(sealed, []byte(c.ClientID))
	if err != nil {
		return "", fmt.Errorf("open the %s of shop %s: %w", what, c.Shop, err)
	}
	return string(plain), nil
}

// WebhookSecret returns the secret that signs shop's webhooks, by the way it is
// connected: the deployment's app secret (oauth), the winery's app secret
// (client_credentials), or the secret stored with a static token (token). A shop we do not
// know is NotFound; one whose secret is unknown answers "" (every signature fails).
func (s *Store) WebhookSecret(ctx context.Context, shop string) (clientID, secret string, err error) {
	shop = strings.ToLower(strings.TrimSpace(shop))
	if !shopify.ValidShop(shop) {
		return "", "", apperr.NotFoundf("no shopify client with shop %q", clip(shop))
	}
	c, err := s.get(ctx, s.pool, sqlByShop, pgx.StrictNamedArgs{"shop": shop})
	if apperr.KindOf(err) == apperr.NotFound {
		return "", "", apperr.NotFoundf("no shopify client with shop %q", shop)
	}
	if err != nil {
		return "", "", err
	}
	switch c.Auth {
	case AuthOAuth:
		return c.ClientID, s.app.ClientSecret, nil
	case AuthClientCredentials:
		secret, err = s.open(c, c.AppSecret, "client secret")
	default:
		secret, err = s.open(c, c.WebhookSecret, "webhook secret")
	}
	return c.ClientID, secret, err
}

// AdoptLegacyWebhookSecret gives every token connection without a webhook secret the one
// SHOPIFY_WEBHOOK_SECRET held for all shops before per-client secrets, so an upgrade keeps
// their webhooks verifying. It returns how many it sealed; each is sealed once, however many
// replicas start at the same time.
func (s *Store) AdoptLegacyWebhookSecret(ctx context.Context, secret string) (int, error) {
	if secret == "" {
		return 0, nil
	}
	if s.box == nil {
		return 0, errors.New("adopt SHOPIFY_WEBHOOK_SECRET: no TIERSYNC_SECRET_KEY")
	}
	rows, err := s.pool.Query(ctx, sqlAdoptWebhookSecret)
	if err != nil {
		return 0, fmt.Errorf("adopt SHOPIFY_WEBHOOK_SECRET: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("adopt SHOPIFY_WEBHOOK_SECRET: %w", err)
	}
	n := 0
	for _, id := range ids {
		sealed, err := s.box.Seal([]byte(secret), []byte(id))
		if err != nil {
			return n, err
		}
		tag, err := s.pool.Exec(ctx, sqlSetWebhookSecret, pgx.StrictNamedArgs{"client_id": id, "webhook_secret_enc": sealed, "now": s.now()})
		if err != nil {
			return n, fmt.Errorf("adopt SHOPIFY_WEBHOOK_SECRET for client %s: %w", id, err)
		}
		n += int(tag.RowsAffected())
	}
	return n, nil
}

// Status is a connection as the admin page and GET /api/clients show it: never a secret.
type Status struct {
	ClientID       string     `json:"client_id"`
	Shop           string     `json:"shop"`
	Auth           string     `json:"shopify_auth"`
	State          string     `json:"state"`
	Error          string     `json:"error,omitempty"`
	Since          time.Time  `json:"since"`
	TokenExpiresAt *time.Time `json:"token_expires_at"`
}

// Statuses lists every connection's state.
func (s *Store) Statuses(ctx context.Context) ([]Status, error) {
	rows, err := s.pool.Query(ctx, sqlListStates)
	if err != nil {
		return nil, fmt.Errorf("list shopify connections: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Status, error) {
		var st Status
		err := r.Scan(&st.ClientID, &st.Shop, &st.Auth, &st.State, &st.Error, &st.Since, &st.TokenExpiresAt)
		st.Since = st.Since.UTC()
		return st, err
	})
}

func clip(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}
