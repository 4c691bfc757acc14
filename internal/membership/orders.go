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
	"tiersync/internal/crm"
	"tiersync/internal/db"
	"tiersync/internal/queue"
)

// OrderEvent is one order webhook, already authenticated and parsed by the HTTP layer.
type OrderEvent struct {
	ClientID   string
	Provider   string // "commerce7" | "shopify"
	ExternalID string // the dedupe key
	// OrderVersion, when set, is a second dedupe key: the order's id and its own version
	// from the signed body. A provider whose event id travels outside the signature
	// (Shopify's headers) sets it, so that a replay of one order version under a new event
	// id is a duplicate too.
	OrderVersion string
	Topic        string
	Payload      []byte // the raw body, kept in webhook_events
	Order        Order
	// Refund: the order pays Order.TotalCents back (a refund is an order of its own);
	// RefundOf names the original order when the CRM says which. A refund lowers
	// lifetime value and nothing else: a tier already granted stays until it expires.
	Refund   bool
	RefundOf string
	// Void: the order was cancelled or deleted in the CRM; it leaves lifetime value
	// (see ApplyOrder).
	Void bool
}

// Caps of the webhook bookkeeping fields (dedupe keys live in unique indexes).
const (
	maxExternalIDBytes = 512
	maxTopicBytes      = 100
	maxPaidAhead       = 24 * time.Hour
)

var currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)

// validate refuses an order event no CRM sends, with a 400 (the webhook contract), before
// anything is written; a CRM's names are cleaned rather than refused (cleanName).
func (ev *OrderEvent) validate() error {
	o := &ev.Order
	if o.CRMOrderID == "" {
		return apperr.BadRequestf("order id is required")
	}
	if err := CheckCRMID("order id", o.CRMOrderID); err != nil {
		return err
	}
	if o.CustomerCRMID != "" {
		if err := CheckCRMID("order customer id", o.CustomerCRMID); err != nil {
			return err
		}
	}
	if ev.RefundOf != "" && CheckCRMID("refunded order id", ev.RefundOf) != nil {
		ev.RefundOf = "" // only ever compared with order ids: never a reason to refuse a refund
	}
	if o.TotalCents < 0 {
		return apperr.BadRequestf("order total must not be negative")
	}
	if o.TotalCents > MaxOrderCents {
		return apperr.BadRequestf("order total %d cents is more than %d", o.TotalCents, int64(MaxOrderCents))
	}
	if o.Currency != "" && !currencyRe.MatchString(o.Currency) {
		return apperr.BadRequestf("order currency %q is not an ISO 4217 code", clip(o.Currency, 40))
	}
	if o.Email != "" {
		var err error
		if o.Email, err = CheckEmail("order email", o.Email); err != nil {
			return err
		}
	}
	o.FirstName, o.LastName = cleanName(o.FirstName), cleanName(o.LastName)
	for _, f := range []struct {
		name, v string
		max     int
	}{{"event id", ev.ExternalID, maxExternalIDBytes}, {"order version", ev.OrderVersion, maxExternalIDBytes}, {"topic", ev.Topic, maxTopicBytes}} {
		if len(f.v) > f.max {
			return apperr.BadRequestf("%s is longer than %d bytes", f.name, f.max)
		}
		if err := checkText(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	if strings.TrimSpace(ev.ExternalID) == "" {
		return apperr.BadRequestf("event id is required")
	}
	// A payment from the future would start a membership there; a clock a little ahead
	// at the CRM is not refused.
	if o.PaidAt != nil && o.PaidAt.After(time.Now().Add(maxPaidAhead)) {
		return apperr.BadRequestf("order paid time %s is in the future", o.PaidAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// Order is an order as tiersync needs it: the CRM packages parse their webhooks into
// it (crm.Order), so that they need not know membership.
type Order = crm.Order

// Webhook outcomes, as the webhook endpoints answer them.
const (
	WebhookAccepted  = "accepted"
	WebhookDuplicate = "duplicate"
	WebhookIgnored   = "ignored"
)

// What an order did to the customer's membership.
const (
	OrderEnrolled = "enrolled"
	OrderUpgraded = "upgraded"
	OrderRenewed  = "renewed"
	OrderNothing  = "none"
)

// OrderResult is what ApplyOrder did.
type OrderResult struct {
	Status       string // accepted, duplicate, ignored
	Action       string // enrolled, upgraded, renewed, none
	EnrollmentID string
	QueueID      int64
}

// ErrNeedCustomer says the order names a CRM customer tiersync does not know and carries
// no email to create it from: the caller reads the customer from the CRM and tries again.
var ErrNeedCustomer = errors.New("order's customer unknown and no email in the payload")

// ApplyOrder records an order webhook once and applies it, in ONE transaction: the event
// row (a second delivery of the same event is a duplicate and changes nothing), the
// customer (found by CRM id or email, or created), the order (upserted by CRM order id),
// the lifetime value (the sum of the customer's paid orders, so Create + Update never
// count twice), and the membership change the order qualifies for.
//
// What is not a payment changes no membership, and only the event row is written for
// what names nobody: an unpaid order, and a paid order with neither a customer id nor an
// email (a walk-in sale at the tasting-room POS) are ignored. A refund lowers the
// lifetime value of a customer we know, and a void (an order cancelled or deleted in the
// CRM) takes the order out of it (applyRefund, applyVoid); a tier already granted stays
// until it expires, so a refund or a void never ends or downgrades an enrollment, and the
// lower lifetime value only counts towards the next order.
func (s *Store) ApplyOrder(ctx context.Context, ev OrderEvent) (OrderResult, error) {
	if err := ev.validate(); err != nil {
		return OrderResult{}, err
	}
	o := ev.Order
	var res OrderResult
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		res = OrderResult{}
		if err := claimOrder(ctx, tx, &ev); err != nil {
			return err
		}
		var eventID int64
		outcome := WebhookAccepted
		nobody := o.CustomerCRMID == "" && o.Email == ""
		if !ev.Void && (nobody || o.PaidAt == nil && !ev.Refund) {
			outcome = WebhookIgnored // recorded, so a redelivery is a duplicate; nothing to qualify
		}
		err := tx.QueryRow(ctx, sqlWebhookEventInsert, pgx.StrictNamedArgs{
			"client_id": ev.ClientID, "provider": ev.Provider, "external_id": ev.ExternalID, "topic": ev.Topic,
			"payload": ev.Payload, "outcome": outcome, "order_version": nullable(ev.OrderVersion),
		}).Scan(&eventID)
		if errors.Is(err, pgx.ErrNoRows) {
			res.Status, res.Action = WebhookDuplicate, OrderNothing
			return nil
		}
		if err != nil {
			return fmt.Errorf("order: record webhook: %w", err)
		}
		res.Status, res.Action = outcome, OrderNothing
		switch {
		case outcome == WebhookIgnored:
			return nil
		case ev.Void:
			return s.applyVoid(ctx, tx, ev, eventID, &res)
		case ev.Refund:
			return s.applyRefund(ctx, tx, ev, eventID, &res)
		}

		customerID, err := s.orderCustomer(ctx, tx, ev.ClientID, o)
		if err != nil {
			return err
		}
		orderID, voided, err := upsertOrder(ctx, tx, ev, customerID)
		if err != nil || voided {
			return err // a voided order stays out of lifetime value and qualifies for nothing
		}
		ltv, err := updateLTV(ctx, tx, customerID)
		if err != nil {
			return err
		}
		return s.qualify(ctx, tx, ev.ClientID, customerID, orderID, o, ltv, &res)
	})
	if err != nil {
		return OrderResult{}, err
	}
	return res, nil
}

// claimOrder refuses a Shopify order id already seen under another client. Shopify's ids
// are global: one order belongs to one shop, and the order JSON names no shop. With one
// app secret for every shop the signature cannot tell shops apart either, so the same
// signed body re-sent with another X-Shopify-Shop-Domain would otherwise enroll the
// customer at the other winery. The first client an order id is seen under (paid or not)
// owns it; a claim by another is a 409 and writes nothing. (A replay that reaches us
// before the genuine delivery would win the claim; per-shop secrets close that.)
// Commerce7 signs nothing and names the tenant in the body, behind the tenant's own
// credentials, so it needs no claim.
func claimOrder(ctx context.Context, tx pgx.Tx, ev *OrderEvent) error {
	if ev.Provider != CRMShopify {
		return nil
	}
	if _, err := tx.Exec(ctx, sqlWebhookOrderClaim, pgx.StrictNamedArgs{
		"provider": ev.Provider, "crm_order_id": ev.Order.CRMOrderID, "client_id": ev.ClientID,
	}); err != nil {
		return fmt.Errorf("order: claim %s: %w", ev.Order.CRMOrderID, err)
	}
	var owner string
	if err := tx.QueryRow(ctx, sqlWebhookOrderOwner, pgx.StrictNamedArgs{"provider": ev.Provider, "crm_order_id": ev.Order.CRMOrderID}).Scan(&owner); err != nil {
		return fmt.Errorf("order: owner of %s: %w", ev.Order.CRMOrderID, err)
	}
	if owner != ev.ClientID {
		return apperr.Conflictf("order %s belongs to another shop; refused", ev.Order.CRMOrderID)
	}
	return nil
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// orderCustomer finds the order's customer by CRM id, then by email, or creates it, and
// locks it: two orders of one customer are decided one after the other.
func (s *Store) orderCustomer(ctx context.Context, tx pgx.Tx, clientID string, o Order) (string, error) {
	var id string
	if o.CustomerCRMID != "" {
		err := tx.QueryRow(ctx, sqlCustomerByCRMID, pgx.StrictNamedArgs{"client_id": clientID, "crm_id": o.CustomerCRMID}).Scan(&id)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return "", fmt.Errorf("order: customer by crm id: %w", err)
		}
	}
	if o.Email == "" {
		return "", ErrNeedCustomer // a customer id we don't know (ApplyOrder ignored orders naming nobody)
	}
	var crmID *string
	if o.CustomerCRMID != "" {
		crmID = &o.CustomerCRMID
	}
	err := tx.QueryRow(ctx, sqlCustomerUpsertFromOrder, pgx.StrictNamedArgs{
		"client_id": clientID, "email": o.Email, "first_name": strings.TrimSpace(o.FirstName),
		"last_name": strings.TrimSpace(o.LastName), "crm_id": crmID,
	}).Scan(&id)
	if _, dup := db.UniqueViolation(err); dup {
		// The CRM id is another customer's: trust the id over the email.
		return "", apperr.Conflictf("CRM customer %s is linked to another customer than %s", o.CustomerCRMID, o.Email)
	}
	if err != nil {
		return "", fmt.Errorf("order: customer: %w", err)
	}
	return id, nil
}

// qualify decides what the paid order does to the customer's membership.
func (s *Store) qualify(ctx context.Context, tx pgx.Tx, clientID, customerID, orderID string, o Order, ltv int64, res *OrderResult) error {
	var tier struct {
		id       string
		rank     int
		duration int
	}
	err := tx.QueryRow(ctx, sqlTierQualifying, pgx.StrictNamedArgs{"client_id": clientID, "order_cents": o.TotalCents, "ltv_cents": ltv}).Scan(&tier.id, &tier.rank, &tier.duration)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // qualifies for nothing
	}
	if err != nil {
		return fmt.Errorf("order: qualifying tier: %w", err)
	}
	var cur struct {
		id, tierID string
		rank       int
		expiresAt  time.Time
	}
	err = tx.QueryRow(ctx, sqlEnrollmentActiveForUpdate, pgx.StrictNamedArgs{"customer_id": customerID}).Scan(&cur.id, &cur.tierID, &cur.rank, &cur.expiresAt)
	hasActive := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("order: active enrollment: %w", err)
	}
	var crmID *string
	if err := tx.QueryRow(ctx, sqlCustomerCRMID, pgx.StrictNamedArgs{"id": customerID}).Scan(&crmID); err != nil {
		return fmt.Errorf("order: customer crm id: %w", err)
	}

	switch {
	case hasActive && cur.rank > tier.rank:
		return nil // already in a better tier
	case hasActive && cur.rank == tier.rank:
		var newExpires time.Time
		if err := tx.QueryRow(ctx, sqlEnrollmentRenew, pgx.StrictNamedArgs{"id": cur.id, "paid_at": o.PaidAt, "duration_months": tier.duration}).Scan(&newExpires); err != nil {
			return fmt.Errorf("order: renew: %w", err)
		}
		if newExpires.Equal(cur.expiresAt) {
			return nil // an older order: the membership already runs longer
		}
		if _, err := tx.Exec(ctx, sqlEnrollmentEventInsert, pgx.StrictNamedArgs{
			"enrollment_id": cur.id, "event": eventRenewed, "old_tier_id": cur.tierID, "new_tier_id": cur.tierID,
			"old_expires_at": cur.expiresAt, "new_expires_at": newExpires, "cause": causeOrder, "order_id": orderID,
		}); err != nil {
			return fmt.Errorf("order: renew event: %w", err)
		}
		res.Action, res.EnrollmentID = OrderRenewed, cur.id
		return nil
	}

	// A new enrollment: the customer's first, or an upgrade. An old order replayed whose
	// membership would already be over changes nothing.
	var current bool
	if err := tx.QueryRow(ctx, sqlEnrollmentWouldRun, pgx.StrictNamedArgs{"paid_at": o.PaidAt, "duration_months": tier.duration}).Scan(&current); err != nil {
		return fmt.Errorf("order: expiry: %w", err)
	}
	if !current {
		return nil
	}
	if hasActive {
		// The old enrollment ends first: one active enrollment per customer.
		if _, err := tx.Exec(ctx, sqlEnrollmentEnd, pgx.StrictNamedArgs{"id": cur.id, "status": EnrollmentUpgraded}); err != nil {
			return fmt.Errorf("order: end enrollment: %w", err)
		}
	}
	var e Enrollment
	err = tx.QueryRow(ctx, sqlEnrollmentInsertFromOrder, pgx.StrictNamedArgs{
		"client_id": clientID, "customer_id": customerID, "tier_id": tier.id,
		"paid_at": o.PaidAt, "duration_months": tier.duration, "order_id": orderID,
	}).Scan(&e.ID, &e.Status, &e.ClientID, &e.TierID, &e.CustomerID, &e.EnrolledAt, &e.ExpiresAt, &e.CRMMembershipID)
	if err != nil {
		return fmt.Errorf("order: enrollment: %w", err)
	}
	job := queue.NewJob{ClientID: clientID, CustomerID: customerID, EnrollmentID: &e.ID, ActionType: queue.ActionAdd,
		TierID: tier.id, CustomerCRMID: crmID, Priority: queue.PriorityNormal,
		RateKey: RateKey(clientID), OrderKey: orderKey(customerID)}
	event, oldTier, oldExpires := eventEnrolled, (*string)(nil), (*time.Time)(nil)
	res.Action = OrderEnrolled
	if hasActive {
		job.ActionType, job.OldTierID = queue.ActionUpgrade, &cur.tierID
		event, oldTier, oldExpires = eventUpgraded, &cur.tierID, &cur.expiresAt
		res.Action = OrderUpgraded
	}
	if _, err := tx.Exec(ctx, sqlEnrollmentEventInsert, pgx.StrictNamedArgs{
		"enrollment_id": e.ID, "event": event, "old_tier_id": oldTier, "new_tier_id": tier.id,
		"old_expires_at": oldExpires, "new_expires_at": e.ExpiresAt, "cause": causeOrder, "order_id": orderID,
	}); err != nil {
		return fmt.Errorf("order: event: %w", err)
	}
	if _, err := tx.Exec(ctx, sqlCustomerSetMember, pgx.StrictNamedArgs{"id": customerID, "tier_id": tier.id}); err != nil {
		return fmt.Errorf("order: customer flags: %w", err)
	}
	ids, err := queue.Enqueue(ctx, tx, job)
	if err != nil {
		return err
	}
	res.EnrollmentID, res.QueueID = e.ID, ids[0]
	return nil
}
