package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tiersync/internal/config"
	"tiersync/internal/crm"
	"tiersync/internal/crm/commerce7"
	"tiersync/internal/crm/shopify"
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
}

func newCRMs(cfg *config.Config, limiter crm.Limiter, log *slog.Logger) (CRMs, error) {
	var c CRMs
	if cfg.Commerce7AppID != "" && cfg.Commerce7Key != "" {
		c7, err := commerce7.New(commerce7.Config{
			BaseURL: cfg.Commerce7APIURL,
			AppID:   cfg.Commerce7AppID,
			Key:     cfg.Commerce7Key,
			Timeout: crmTimeout(cfg.QueueLease),
			Limiter: limiter,
		})
		if err != nil {
			return CRMs{}, err
		}
		c.Commerce7 = c7
	} else {
		log.Warn("COMMERCE7_APP_ID or COMMERCE7_KEY unset: Commerce7 rows cannot sync on this replica")
	}
	c.ShopifyDeprecated = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tiersync_shopify_deprecated_answers_total",
		Help: "Shopify answers carrying X-Shopify-API-Deprecated-Reason: SHOPIFY_API_VERSION is near its end, or a call uses a deprecated field."},
		[]string{"op"})
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
		return CRMs{}, err
	}
	c.Shopify = sh
	return c, nil
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
