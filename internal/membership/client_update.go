package membership

import (
	"context"
	_ "embed" // the query in sql/
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/apperr"
	"tiersync/internal/db"
	"tiersync/internal/queue"
)

//go:embed sql/client_update.sql
var sqlClientUpdate string

// ClientUpdate is the input of UpdateClient (PATCH /api/clients/{client_id}). Nil and
// false leave a thing as it is.
type ClientUpdate struct {
	Name               *string
	RateLimitPerMinute *int
	Currency           *string // ISO 4217
	DriftPolicy        *string // tiersync_wins or crm_wins
	// RotateWebhookCredentials gives a Commerce7 client a new webhook pair (as
	// RotateWebhookCredentials does), returned once.
	RotateWebhookCredentials bool
	// Connect rotates a Shopify client's connection (internal/shopifyapp) in the
	// transaction that updates the client; nil: no Shopify field was sent. Refused for
	// Commerce7.
	Connect func(ctx context.Context, tx pgx.Tx, c Client) error
}

// validate checks the values sent; it changes nothing.
func (in *ClientUpdate) validate() error {
	if in.Name == nil && in.RateLimitPerMinute == nil && in.Currency == nil && in.DriftPolicy == nil && !in.RotateWebhookCredentials && in.Connect == nil {
		return apperr.BadRequestf("nothing to change: send name, rate_limit_per_minute, currency, drift_policy, rotate_webhook_credentials " +
			"(Commerce7) or Shopify credentials (shopify_auth, shopify_client_id, shopify_client_secret, " +
			"shopify_access_token, shopify_webhook_secret)")
	}
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		if name == "" {
			return apperr.Invalidf("name must not be empty")
		}
		if err := checkText("name", name, MaxNameChars); err != nil {
			return err
		}
		in.Name = &name
	}
	if in.RateLimitPerMinute != nil {
		if r := *in.RateLimitPerMinute; r <= 0 || r > maxRatePerMinute {
			return apperr.Invalidf("rate_limit_per_minute must be between 1 and %d, got %d", maxRatePerMinute, r)
		}
	}
	if err := checkDriftPolicy(in.DriftPolicy); err != nil {
		return err
	}
	return checkCurrency(in.Currency)
}

// UpdateClient changes a client's name and rate limit and rotates its credentials, all in
// one transaction: the queue's rate bucket follows the new rate (queue.SetRate), a
// Commerce7 client's new webhook pair is returned once, a Shopify client's connection
// changes through in.Connect. Any refusal (a Shopify field on a Commerce7 client, webhook
// credentials for a Shopify client, an invalid credential) writes nothing.
func (s *Store) UpdateClient(ctx context.Context, id string, in ClientUpdate) (ClientWithCredentials, error) {
	if err := CheckUUID("client_id", id); err != nil {
		return ClientWithCredentials{}, err
	}
	if err := in.validate(); err != nil {
		return ClientWithCredentials{}, err
	}
	var c Client
	var creds *WebhookCredentials
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		c, err = scanClientRow(tx.QueryRow(ctx, sqlClientUpdate, pgx.StrictNamedArgs{
			"id": id, "name": in.Name, "rate_limit_per_minute": in.RateLimitPerMinute, "currency": in.Currency,
			"drift_policy": in.DriftPolicy}))
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.NotFoundf("client %s not found", id)
		}
		if err != nil {
			return err
		}
		switch {
		case in.RotateWebhookCredentials && c.CRMType != CRMCommerce7:
			return apperr.Invalidf("client %s is a %s client: only Commerce7 clients have webhook credentials "+
				"(rotate_webhook_credentials); Shopify signs its webhooks", c.ID, c.CRMType)
		case in.Connect != nil && c.CRMType != CRMShopify:
			return apperr.Invalidf("shopify_auth, shopify_client_id, shopify_client_secret, shopify_access_token and " +
				"shopify_webhook_secret are only for shopify clients")
		}
		if in.RotateWebhookCredentials {
			pair, hash, err := newWebhookCredentials()
			if err != nil {
				return err
			}
			// The same statement as POST …/webhook-credentials, in this transaction.
			c, err = scanClientRow(tx.QueryRow(ctx, sqlClientRotateWebhookCredentials, pgx.StrictNamedArgs{
				"id": c.ID, "webhook_user": pair.User, "webhook_password_hash": hash}))
			if err != nil {
				return fmt.Errorf("rotate webhook credentials: %w", err)
			}
			creds = &pair
		}
		if in.Connect != nil {
			if err := in.Connect(ctx, tx, c); err != nil {
				return err
			}
		}
		if in.RateLimitPerMinute != nil {
			// The client's CRM requests draw from their bucket in the queue: it follows now,
			// not after the commit, so no request goes out at a rate nobody set.
			return queue.SetRate(ctx, tx, RateKey(c.ID), c.RateLimitPerMinute)
		}
		return nil
	})
	if err != nil && apperr.KindOf(err) == apperr.Internal {
		err = fmt.Errorf("update client %s: %w", id, err)
	}
	if err != nil {
		return ClientWithCredentials{}, err
	}
	return ClientWithCredentials{Client: c, WebhookCredentials: creds}, nil
}
