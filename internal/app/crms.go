package app

import (
	"context"
	"log/slog"
	"time"

	"tiersync/internal/config"
	"tiersync/internal/crm"
	"tiersync/internal/crm/commerce7"
	"tiersync/internal/crm/shopify"
	"tiersync/internal/membership"
	"tiersync/internal/syncer"
)

// CRMs are the CRM clients of this replica. Commerce7 is nil without app credentials: its
// rows fail their attempts with a message that says so, and come back with an operator's
// retry once it is configured. Shopify needs no process-wide credentials: each shop's
// token is stored (sealed) with its client and opened per row.
type CRMs struct {
	Commerce7 *commerce7.Client
	Shopify   *shopify.Client
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
	sh, err := shopify.New(shopify.Config{
		BaseURL: cfg.ShopifyAPIURL,
		Version: cfg.ShopifyAPIVersion,
		Timeout: crmTimeout(cfg.QueueLease),
		Limiter: limiter,
	})
	if err != nil {
		return CRMs{}, err
	}
	c.Shopify = sh
	return c, nil
}

// providers are the syncer's provider per CRM type.
func (c CRMs) providers(store *membership.Store) map[string]syncer.ProviderFunc {
	p := map[string]syncer.ProviderFunc{}
	if c.Commerce7 != nil {
		p["commerce7"] = func(_ context.Context, cl syncer.Client) (crm.Provider, error) {
			return c.Commerce7.Provider(cl.ID, cl.Tenant), nil
		}
	}
	p["shopify"] = func(ctx context.Context, cl syncer.Client) (crm.Provider, error) {
		token, err := store.ShopifyToken(ctx, cl.ID)
		if err != nil {
			return nil, err
		}
		return c.Shopify.Provider(cl.ID, cl.Tenant, token), nil
	}
	return p
}

// crmTimeout bounds one CRM request: well inside the lease (the heartbeat renews it every
// lease/3), and never more than 10 s, which no healthy CRM call needs.
func crmTimeout(lease time.Duration) time.Duration {
	return min(lease/3, 10*time.Second)
}
