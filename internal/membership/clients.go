package membership

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/apperr"
	"tiersync/internal/db"
	"tiersync/internal/queue"
)

// CRM types.
const (
	CRMCommerce7 = "commerce7"
	CRMShopify   = "shopify"
)

// Default request budgets per client. Commerce7 documents 100 requests/minute per tenant.
// Shopify's GraphQL limit is in cost points (100/s restored on a standard plan); our
// mutations cost about 10 points, so 600 requests/minute keeps well inside it and the
// cost-based throttle does the fine control.
const (
	DefaultCommerce7RatePerMinute = 100
	DefaultShopifyRatePerMinute   = 600
	maxRatePerMinute              = 100_000
)

// Client is a winery. Its webhook password never leaves the package after it is made; a
// Shopify client's credentials are internal/shopifyapp's (shopify_connections).
type Client struct {
	ID                 string `json:"id"`
	Name               string `json:"name"`
	CRMType            string `json:"crm_type"`
	Tenant             string `json:"tenant"`
	RateLimitPerMinute int    `json:"rate_limit_per_minute"`
	// Currency is the ISO 4217 code of the client's amounts (tier thresholds, lifetime
	// values): the API keeps cents, the admin page shows money in it.
	Currency string `json:"currency"`
	// DriftPolicy says who wins when reconciling finds the CRM changed behind our back:
	// tiersync_wins (the CRM is set back to match us) or crm_wins (we take the CRM's
	// change).
	DriftPolicy string    `json:"drift_policy"`
	CreatedAt   time.Time `json:"created_at"`
	// WebhookAuth is how a Commerce7 client's webhooks authenticate: WebhookAuthOwn or
	// WebhookAuthGlobal (made before per-client credentials; rotate to leave it). Null for
	// Shopify.
	WebhookAuth *string `json:"webhook_auth"`
}

// NewClient is the input of CreateClient. Pointers tell "absent" from "zero"; the HTTP
// layer has already refused absent required fields.
type NewClient struct {
	Name               string
	CRMType            string
	Tenant             string
	RateLimitPerMinute *int
	Currency           *string // ISO 4217, upper-case three letters; default USD
	DriftPolicy        *string // tiersync_wins (default) or crm_wins
	// Connect stores a Shopify client's connection (internal/shopifyapp) in the
	// transaction that makes the client, so a Shopify client never exists without one.
	// Required for Shopify, refused for Commerce7.
	Connect func(ctx context.Context, tx pgx.Tx, clientID string) error
}

var (
	// Commerce7 tenant ids are slugs ("spectrum-winery").
	c7TenantRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$`)
	// Webhooks name a shop by its permanent myshopify.com domain, never a custom domain.
	shopDomainRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,99}\.myshopify\.com$`)
)

// validate checks a new client and fills in defaults; it returns the tenant as stored.
func (in *NewClient) validate() error {
	in.Name = strings.TrimSpace(in.Name)
	in.Tenant = strings.TrimSpace(in.Tenant)
	if in.Name == "" {
		return apperr.BadRequestf("name is required")
	}
	if err := checkText("name", in.Name, MaxNameChars); err != nil {
		return err
	}
	if in.Tenant == "" {
		return apperr.BadRequestf("tenant is required")
	}
	switch in.CRMType {
	case CRMCommerce7:
		if !c7TenantRe.MatchString(in.Tenant) {
			return apperr.Invalidf("tenant %q is not a Commerce7 tenant id (letters, digits, '-' and '_')", in.Tenant)
		}
		if in.Connect != nil {
			return apperr.Invalidf("shopify_auth, shopify_client_id, shopify_client_secret, shopify_access_token and " +
				"shopify_webhook_secret are only for shopify clients")
		}
	case CRMShopify:
		in.Tenant = strings.ToLower(in.Tenant)
		if !shopDomainRe.MatchString(in.Tenant) {
			return apperr.Invalidf("tenant %q is not a shop's myshopify.com domain (e.g. my-winery.myshopify.com)", in.Tenant)
		}
		if in.Connect == nil {
			return errors.New("create shopify client: no connection to store with it")
		}
	case "":
		return apperr.BadRequestf("crm_type is required")
	default:
		return apperr.Invalidf("crm_type %q is not one of commerce7, shopify", in.CRMType)
	}
	if in.RateLimitPerMinute != nil {
		if r := *in.RateLimitPerMinute; r <= 0 || r > maxRatePerMinute {
			return apperr.Invalidf("rate_limit_per_minute must be between 1 and %d, got %d", maxRatePerMinute, r)
		}
	}
	if in.Currency == nil {
		usd := DefaultCurrency
		in.Currency = &usd
	}
	if in.DriftPolicy == nil {
		p := DriftTiersyncWins
		in.DriftPolicy = &p
	}
	if err := checkDriftPolicy(in.DriftPolicy); err != nil {
		return err
	}
	return checkCurrency(in.Currency)
}

// Drift policies (clients.drift_policy).
const (
	DriftTiersyncWins = "tiersync_wins"
	DriftCRMWins      = "crm_wins"
)

// checkDriftPolicy refuses a drift policy that is neither.
func checkDriftPolicy(p *string) error {
	if p != nil && *p != DriftTiersyncWins && *p != DriftCRMWins {
		return apperr.Invalidf("drift_policy %q is not one of %s, %s", clip(*p, 40), DriftTiersyncWins, DriftCRMWins)
	}
	return nil
}

// DefaultCurrency is a client's currency when none is given.
const DefaultCurrency = "USD"

// checkCurrency upper-cases a currency code and checks its shape.
func checkCurrency(c *string) error {
	if c == nil {
		return nil
	}
	*c = strings.ToUpper(strings.TrimSpace(*c))
	if !currencyRe.MatchString(*c) {
		return apperr.Invalidf("currency %q is not an ISO 4217 code (three letters, e.g. USD, CAD, EUR)", clip(*c, 20))
	}
	return nil
}

// CreateClient stores a new client (and, through in.Connect, a Shopify client's
// connection). A Commerce7 client gets its own webhook credentials, returned here in clear
// and never again.
func (s *Store) CreateClient(ctx context.Context, in NewClient) (ClientWithCredentials, error) {
	if err := in.validate(); err != nil {
		return ClientWithCredentials{}, err
	}
	var creds *WebhookCredentials
	var hookUser *string
	var hookHash []byte
	if in.CRMType == CRMCommerce7 {
		c, hash, err := newWebhookCredentials()
		if err != nil {
			return ClientWithCredentials{}, fmt.Errorf("create client: %w", err)
		}
		creds, hookUser, hookHash = &c, &c.User, hash
	}
	rate := DefaultCommerce7RatePerMinute
	if in.CRMType == CRMShopify {
		rate = DefaultShopifyRatePerMinute
	}
	if in.RateLimitPerMinute != nil {
		rate = *in.RateLimitPerMinute
	}
	var c Client
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		row := tx.QueryRow(ctx, sqlClientInsert, pgx.StrictNamedArgs{
			"name": in.Name, "crm_type": in.CRMType, "tenant": in.Tenant, "rate_limit_per_minute": rate,
			"webhook_user": hookUser, "webhook_password_hash": hookHash, "currency": *in.Currency, "drift_policy": *in.DriftPolicy,
		})
		var err error
		if c, err = scanClientRow(row); err != nil {
			return err
		}
		if in.Connect != nil {
			if err := in.Connect(ctx, tx, c.ID); err != nil {
				return err
			}
		}
		// The client's CRM requests draw from their own bucket in the queue, at its rate.
		return queue.SetRate(ctx, tx, RateKey(c.ID), c.RateLimitPerMinute)
	})
	if name, ok := db.UniqueViolation(err); ok && name == "clients_tenant_key" {
		return ClientWithCredentials{}, apperr.Conflictf("a client with tenant %q already exists", in.Tenant)
	}
	if err != nil {
		return ClientWithCredentials{}, fmt.Errorf("create client: %w", err)
	}
	return ClientWithCredentials{Client: c, WebhookCredentials: creds}, nil
}

type clientCursor struct {
	CreatedAt time.Time `json:"t"`
	ID        string    `json:"id"`
}

// ListClients returns one page of clients, oldest first, and the cursor of the next page
// ("" when this is the last).
func (s *Store) ListClients(ctx context.Context, p Page) ([]Client, string, error) {
	var after *time.Time
	var afterID *string
	if p.Cursor != "" {
		var cur clientCursor
		if err := decodeCursor(p.Cursor, &cur); err != nil {
			return nil, "", err
		}
		// A cursor is the caller's text: one with a non-UUID id would be a database error.
		if !uuidRe.MatchString(cur.ID) {
			return nil, "", apperr.BadRequestf("cursor %q is not one this API returned", clip(p.Cursor, 120))
		}
		after, afterID = &cur.CreatedAt, &cur.ID
	}
	rows, err := s.pool.Query(ctx, sqlClientList, pgx.StrictNamedArgs{"after_created_at": after, "after_id": afterID, "limit": p.Limit + 1})
	if err != nil {
		return nil, "", fmt.Errorf("list clients: %w", err)
	}
	clients, err := pgx.CollectRows(rows, scanClient)
	if err != nil {
		return nil, "", fmt.Errorf("list clients: %w", err)
	}
	next := ""
	if len(clients) > p.Limit {
		clients = clients[:p.Limit]
		last := clients[len(clients)-1]
		next = encodeCursor(clientCursor{last.CreatedAt, last.ID})
	}
	return clients, next, nil
}

// GetClient returns one client, or a NotFound error.
func (s *Store) GetClient(ctx context.Context, id string) (Client, error) {
	if err := CheckUUID("client_id", id); err != nil {
		return Client{}, err
	}
	rows, err := s.pool.Query(ctx, sqlClientGet, pgx.StrictNamedArgs{"id": id})
	if err != nil {
		return Client{}, fmt.Errorf("get client: %w", err)
	}
	c, err := pgx.CollectExactlyOneRow(rows, scanClient)
	if errors.Is(err, pgx.ErrNoRows) {
		return Client{}, apperr.NotFoundf("client %s not found", id)
	}
	if err != nil {
		return Client{}, fmt.Errorf("get client: %w", err)
	}
	return c, nil
}

func scanClient(row pgx.CollectableRow) (Client, error) { return scanClientRow(row) }

// scanClientRow reads the client columns every client statement returns, in their order
// (webhook_legacy last: whether a Commerce7 client still has no credentials of its own).
func scanClientRow(row pgx.Row) (Client, error) {
	var c Client
	var legacy bool
	err := row.Scan(&c.ID, &c.Name, &c.CRMType, &c.Tenant, &c.RateLimitPerMinute, &c.CreatedAt, &legacy, &c.Currency, &c.DriftPolicy)
	c.CreatedAt = c.CreatedAt.UTC()
	if c.CRMType == CRMCommerce7 {
		auth := WebhookAuthOwn
		if legacy {
			auth = WebhookAuthGlobal
		}
		c.WebhookAuth = &auth
	}
	return c, err
}

// ClientByTenant finds the client of a Commerce7 tenant or Shopify shop domain (any case).
// A tenant that no client could have (CreateClient's rules) is not found without asking
// the database: a webhook's tenantId or shop header is the caller's text, and invalid
// UTF-8 in it would be a database error, not a 404.
func (s *Store) ClientByTenant(ctx context.Context, crmType, tenant string) (Client, error) {
	tenant = strings.TrimSpace(tenant)
	notFound := apperr.NotFoundf("no %s client with tenant %q", crmType, clip(strings.ToValidUTF8(tenant, "\uFFFD"), 120))
	switch crmType {
	case CRMCommerce7:
		if !c7TenantRe.MatchString(tenant) {
			return Client{}, notFound
		}
	case CRMShopify:
		if !shopDomainRe.MatchString(strings.ToLower(tenant)) {
			return Client{}, notFound
		}
	}
	rows, err := s.pool.Query(ctx, sqlClientByTenant, pgx.StrictNamedArgs{"crm_type": crmType, "tenant": tenant})
	if err != nil {
		return Client{}, fmt.Errorf("client by tenant %q: %w", tenant, err)
	}
	c, err := pgx.CollectExactlyOneRow(rows, scanClient)
	if errors.Is(err, pgx.ErrNoRows) {
		return Client{}, notFound
	}
	if err != nil {
		return Client{}, fmt.Errorf("client by tenant %q: %w", tenant, err)
	}
	return c, nil
}
