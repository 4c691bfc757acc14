package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tiersync/internal/config"
	"tiersync/internal/crm"
	"tiersync/internal/crm/commerce7"
	"tiersync/internal/crm/shopify"
	"tiersync/internal/reconcile"
	"tiersync/internal/shopifyapp"
	"tiersync/internal/syncer"
)

// CRMs are the CRM clients of this replica. Commerce7 is nil without app credentials: its
// rows fail their attempts with a message that says so, and come back with an operator's
// retry once it is configured. Shopify needs no process-wide credentials: each shop's
// token comes from its connection (internal/shopifyapp), renewed as it expires.
type CRMs struct {
	Commerce7 *commerce7.Client
	Shopify   *shopify.Client
	// ShopifyDeprecated counts Shopify's answers that carried a deprecation header, by
	// operation (a handful of values: never by shop, which would grow with the clients).
	// The HTTP server registers it on /metrics.
	ShopifyDeprecated *prometheus.CounterVec
	// The same clients taking tokens at low priority (queue.Limiter.Low), for
	// reconciliation's reads.
	lowCommerce7 *commerce7.Client
	lowShopify   *shopify.Client
}

func newCRMs(cfg *config.Config, limiter crm.Limiter, low crm.Limiter, log *slog.Logger) (CRMs, error) {
	var c CRMs
	c.ShopifyDeprecated = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tiersync_shopify_deprecated_answers_total",
		Help: "Shopify answers carrying X-Shopify-API-Deprecated-Reason: SHOPIFY_API_VERSION is near its end, or a call uses a deprecated field."},
		[]string{"op"})
	c7, sh, err := c.clients(cfg, limiter, log)
	if err != nil {
		return CRMs{}, err
	}
	c.Commerce7, c.Shopify = c7, sh
	if c.Commerce7 == nil {
		log.Warn("COMMERCE7_APP_ID or COMMERCE7_KEY unset: Commerce7 rows cannot sync on this replica")
	}
	// The same clients again, taking their tokens at low priority: reconciliation's reads.
	if c.lowCommerce7, c.lowShopify, err = c.clients(cfg, low, log); err != nil {
		return CRMs{}, err
	}
	return c, nil
}

// clients makes the Commerce7 client (nil without app credentials) and the Shopify
// client, drawing on limiter.
func (c *CRMs) clients(cfg *config.Config, limiter crm.Limiter, log *slog.Logger) (*commerce7.Client, *shopify.Client, error) {
	var c7 *commerce7.Client
	if cfg.Commerce7AppID != "" && cfg.Commerce7Key != "" {
		var err error
		c7, err = commerce7.New(commerce7.Config{
			BaseURL: cfg.Commerce7APIURL,
			AppID:   cfg.Commerce7AppID,
			Key:     cfg.Commerce7Key,
			Timeout: crmTimeout(cfg.QueueLease),
			Limiter: limiter,
		})
		if err != nil {
			return nil, nil, err
		}
	}
	sh, err := shopify.New(shopify.Config{
		BaseURL: cfg.ShopifyAPIURL,
		Version: cfg.ShopifyAPIVersion,
		Timeout: crmTimeout(cfg.QueueLease),
		Limiter: limiter,
		OnDeprecated: func(shop, op, reason string) {
			c.ShopifyDeprecated.WithLabelValues(op).Inc()
			log.Warn("shopify: deprecated", slog.String("shop", shop), slog.String("op", op), slog.String("reason", reason),
				slog.String("version", cfg.ShopifyAPIVersion))
		},
		OnNote: func(shop, op, note string) {
			log.Info("shopify: "+note, slog.String("shop", shop), slog.String("op", op))
		},
	})
	if err != nil {
		return nil, nil, err
	}
	return c7, sh, nil
}

// listers give reconciliation a client's CRM reader, at low priority.
func (c CRMs) listers(shops *shopifyapp.Store) reconcile.ListerFunc {
	return func(_ context.Context, cl reconcile.Client) (crm.Lister, error) {
		switch {
		case cl.CRMType == "commerce7" && c.lowCommerce7 != nil:
			return c.lowCommerce7.Provider(cl.ID, cl.Tenant), nil
		case cl.CRMType == "commerce7":
			return nil, errors.New("COMMERCE7_APP_ID or COMMERCE7_KEY unset on this replica")
		case cl.CRMType == "shopify" && shops != nil:
			return c.lowShopify.ProviderWith(cl.ID, cl.Tenant, shops.Tokens(cl.ID)), nil
		case cl.CRMType == "shopify":
			return nil, errors.New("TIERSYNC_SECRET_KEY unset on this replica: Shopify tokens cannot be opened")
		}
		return nil, fmt.Errorf("unknown CRM type %q", cl.CRMType)
	}
}

// providers are the syncer's provider per CRM type.
func (c CRMs) providers(shops *shopifyapp.Store) map[string]syncer.ProviderFunc {
	p := map[string]syncer.ProviderFunc{}
	if c.Commerce7 != nil {
		p["commerce7"] = func(_ context.Context, cl syncer.Client) (crm.Provider, error) {
			return c.Commerce7.Provider(cl.ID, cl.Tenant), nil
		}
	}
	if shops != nil {
		p["shopify"] = func(_ context.Context, cl syncer.Client) (crm.Provider, error) {
			return c.Shopify.ProviderWith(cl.ID, cl.Tenant, shops.Tokens(cl.ID)), nil
		}
	}
	return p
}

// crmTimeout bounds one CRM request: well inside the lease (the heartbeat renews it every
// lease/3), and never more than 10 s, which no healthy CRM call needs.
func crmTimeout(lease time.Duration) time.Duration {
	return min(lease/3, 10*time.Second)
}
