package membership

import (
	"context"
	"errors"
	"fmt"

	"tiersync/internal/crm"
)

// CustomerSource reads a customer from a client's CRM by its CRM id: what an order
// webhook needs when it names a customer tiersync does not know and carries no email
// (Commerce7 sends only customerId on some orders). *commerce7.Client is one.
type CustomerSource interface {
	Customer(ctx context.Context, clientID, tenant, crmCustomerID string) (crm.Customer, error)
}

// ErrCustomerLookup wraps a CustomerSource's failure: the CRM could not be read and
// nothing was written, so the webhook is worth delivering again later.
var ErrCustomerLookup = errors.New("reading the order's customer from the CRM failed")

// ApplyOrderWithLookup applies ev as ApplyOrder does. When the order names a customer
// tiersync does not know and carries no email (ErrNeedCustomer), it reads the customer
// from src — outside any transaction: the first attempt wrote nothing, and no database
// connection waits on the CRM — and applies the order again with the email and names
// read. tenant is the client's CRM tenant, which src needs to address the CRM.
//
// Errors: ErrNeedCustomer as is when src is nil (nobody to ask); ErrCustomerLookup
// (wrapping src's error) when the CRM cannot be read; otherwise ApplyOrder's.
func (s *Store) ApplyOrderWithLookup(ctx context.Context, ev OrderEvent, tenant string, src CustomerSource) (OrderResult, error) {
	res, err := s.ApplyOrder(ctx, ev)
	if !errors.Is(err, ErrNeedCustomer) || src == nil {
		return res, err
	}
	id := ev.Order.CustomerCRMID
	c, err := src.Customer(ctx, ev.ClientID, tenant, id)
	if err != nil {
		return OrderResult{}, fmt.Errorf("%w: customer %s: %w", ErrCustomerLookup, id, err)
	}
	ev.Order.Email, ev.Order.FirstName, ev.Order.LastName = c.Email, c.FirstName, c.LastName
	res, err = s.ApplyOrder(ctx, ev)
	if errors.Is(err, ErrNeedCustomer) {
		// The CRM's customer has no email either: nothing to create ours from. Not a
		// caller's mistake, nor a CRM outage: an internal error, logged.
		return OrderResult{}, fmt.Errorf("order %s: customer %s read from the CRM has no email", ev.Order.CRMOrderID, id)
	}
	return res, err
}
