package app

import (
	"context"
	"errors"
	"fmt"

	"tiersync/internal/membership"
)

// CheckClient makes one cheap authenticated read at a client's CRM with the credentials
// this replica would sync it with (POST /api/clients/{id}/check, the admin page's check
// button, `tiersync clients check`): Commerce7's customer search, Shopify's shop query
// through the connection's tokens (so it may renew a token, and a failing renewal shows in
// the connection's state). Like every CRM request it takes a token from the client's rate
// bucket. nil means the CRM answered.
//
// The providers' Check is not part of crm.Provider: the syncer, the contract tests and
// the fakes' contract need nothing of it, and the two concrete types are all the
// composition root needs to call it.
func (c *Core) CheckClient(ctx context.Context, cl membership.Client) error {
	switch cl.CRMType {
	case membership.CRMCommerce7:
		if c.CRMs.Commerce7 == nil {
			return errors.New("this replica has no Commerce7 credentials (COMMERCE7_APP_ID, COMMERCE7_KEY)")
		}
		return c.CRMs.Commerce7.Provider(cl.ID, cl.Tenant).Check(ctx)
	case membership.CRMShopify:
		if c.Shopify == nil {
			return errors.New("this replica cannot open Shopify credentials (no TIERSYNC_SECRET_KEY)")
		}
		return c.CRMs.Shopify.ProviderWith(cl.ID, cl.Tenant, c.Shopify.Tokens(cl.ID)).Check(ctx)
	}
	return fmt.Errorf("client %s has crm_type %q, which no provider serves", cl.ID, cl.CRMType)
}
