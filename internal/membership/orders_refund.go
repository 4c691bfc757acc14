package membership

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/apperr"
)

// Order kinds (orders.kind): a refund is an order of its own with a negative total.
const (
	orderSale   = "sale"
	orderRefund = "refund"
)

// upsertOrder records the order (a sale, or a refund with its total negated) and says
// whether it was voided before.
func upsertOrder(ctx context.Context, tx pgx.Tx, ev OrderEvent, customerID string) (id string, voided bool, err error) {
	o := ev.Order
	kind, total := orderSale, o.TotalCents
	if ev.Refund {
		kind, total = orderRefund, -o.TotalCents
	}
	err = tx.QueryRow(ctx, sqlOrderUpsert, pgx.StrictNamedArgs{
		"client_id": ev.ClientID, "crm_order_id": o.CRMOrderID, "customer_id": customerID,
		"total_cents": total, "currency": nullable(o.Currency), "paid_at": o.PaidAt,
		"kind": kind, "refund_of": nullable(ev.RefundOf),
	}).Scan(&id, &voided)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, apperr.BadRequestf("order %s was recorded as another kind than %s", o.CRMOrderID, kind)
	}
	if err != nil {
		return "", false, fmt.Errorf("order: upsert: %w", err)
	}
	return id, voided, nil
}

// updateLTV recomputes the customer's lifetime value (customer_update_ltv.sql).
func updateLTV(ctx context.Context, tx pgx.Tx, customerID string) (int64, error) {
	var ltv int64
	if err := tx.QueryRow(ctx, sqlCustomerUpdateLTV, pgx.StrictNamedArgs{"id": customerID}).Scan(&ltv); err != nil {
		return 0, fmt.Errorf("order: lifetime value: %w", err)
	}
	return ltv, nil
}

// setOutcome records that a webhook recorded as accepted turned out to match nothing;
// why is "" unless an operator should look (webhook_events.error).
func setOutcome(ctx context.Context, tx pgx.Tx, eventID int64, outcome, why string) error {
	if _, err := tx.Exec(ctx, sqlWebhookEventSetOutcome, pgx.StrictNamedArgs{"id": eventID, "outcome": outcome, "error": nullable(why)}); err != nil {
		return fmt.Errorf("webhook outcome: %w", err)
	}
	return nil
}

// applyRefund records a refund against a customer we already know (by CRM id, then by
// email) and lowers its lifetime value. A refund is never a payment: it qualifies for
// nothing, renews nothing, and ends no enrollment (a tier already granted stays until it
// expires). A refund of a customer we don't know is ignored: there is no lifetime value
// of ours to lower, and no reason to create the customer (nor to ask the CRM for it).
// Whether the refund order carries orderPaidDate is not documented: it counts either way.
func (s *Store) applyRefund(ctx context.Context, tx pgx.Tx, ev OrderEvent, eventID int64, res *OrderResult) error {
	customerID, found, err := knownCustomer(ctx, tx, ev.ClientID, ev.Order.CustomerCRMID, ev.Order.Email)
	if err != nil {
		return err
	}
	if !found {
		res.Status = WebhookIgnored
		return setOutcome(ctx, tx, eventID, WebhookIgnored, "")
	}
	if _, voided, err := upsertOrder(ctx, tx, ev, customerID); err != nil || voided {
		return err
	}
	_, err = updateLTV(ctx, tx, customerID)
	return err
}

// applyVoid takes an order cancelled or deleted in the CRM out of lifetime value. An
// order we never recorded (never paid, or nobody's) is ignored. A Delete is not a
// payment, so it creates nothing; the void is final, so a later Update of the order does
// not count it again (order_upsert.sql keeps voided_at).
func (s *Store) applyVoid(ctx context.Context, tx pgx.Tx, ev OrderEvent, eventID int64, res *OrderResult) error {
	var customerID string
	err := tx.QueryRow(ctx, sqlOrderVoid, pgx.StrictNamedArgs{"client_id": ev.ClientID, "crm_order_id": ev.Order.CRMOrderID}).Scan(&customerID)
	if errors.Is(err, pgx.ErrNoRows) {
		res.Status = WebhookIgnored
		return setOutcome(ctx, tx, eventID, WebhookIgnored, "")
	}
	if err != nil {
		return fmt.Errorf("order: void %s: %w", ev.Order.CRMOrderID, err)
	}
	_, err = updateLTV(ctx, tx, customerID)
	return err
}

// knownCustomer finds and locks a customer of the client by CRM id, then by email,
// without creating one.
func knownCustomer(ctx context.Context, tx pgx.Tx, clientID, crmID, email string) (id string, found bool, err error) {
	lookups := []struct{ sql, key, value string }{
		{sqlCustomerByCRMID, "crm_id", crmID}, {sqlCustomerByEmail, "email", email},
	}
	for _, l := range lookups {
		if l.value == "" {
			continue
		}
		err := tx.QueryRow(ctx, l.sql, pgx.StrictNamedArgs{"client_id": clientID, l.key: l.value}).Scan(&id)
		if err == nil {
			return id, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return "", false, fmt.Errorf("customer by %s: %w", l.key, err)
		}
	}
	return "", false, nil
}
