package membership

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/apperr"
	"tiersync/internal/db"
	"tiersync/internal/queue"
)

// OrderEvent is one order webhook, already authenticated and parsed by the HTTP layer.
type OrderEvent struct {
	ClientID   string
	Provider   string // "commerce7" | "shopify"
	ExternalID string // the dedupe key
	Topic      string
	Payload    []byte // the raw body, kept in webhook_events
	Order      Order
}

// Order is an order as tiersync needs it.
type Order struct {
	CRMOrderID    string
	CustomerCRMID string // "" when the order has no customer id
	Email         string // "" when the payload has none
	FirstName     string
	LastName      string
	TotalCents    int64
	Currency      string
	PaidAt        *time.Time // nil: not paid (yet)
}

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
func (s *Store) ApplyOrder(ctx context.Context, ev OrderEvent) (OrderResult, error) {
	o := ev.Order
	if o.CRMOrderID == "" {
		return OrderResult{}, apperr.BadRequestf("order id is required")
	}
	if o.TotalCents < 0 {
		return OrderResult{}, apperr.BadRequestf("order total must not be negative")
	}
	if o.Email != "" {
		var err error
		if o.Email, err = CheckEmail("order email", o.Email); err != nil {
			return OrderResult{}, err
		}
	}
	var res OrderResult
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		res = OrderResult{}
		var eventID int64
		outcome := WebhookAccepted
		if o.PaidAt == nil {
			outcome = WebhookIgnored // recorded, so a redelivery is a duplicate; nothing to qualify
		}
		err := tx.QueryRow(ctx, qInsertWebhookEvent, ev.ClientID, ev.Provider, ev.ExternalID, ev.Topic, ev.Payload, outcome).Scan(&eventID)
		if errors.Is(err, pgx.ErrNoRows) {
			res.Status, res.Action = WebhookDuplicate, OrderNothing
			return nil
		}
		if err != nil {
			return fmt.Errorf("order: record webhook: %w", err)
		}
		res.Status, res.Action = outcome, OrderNothing
		if o.PaidAt == nil {
			return nil
		}

		customerID, err := s.orderCustomer(ctx, tx, ev.ClientID, o)
		if err != nil {
			return err
		}
		var orderID string
		if err := tx.QueryRow(ctx, qUpsertOrder, ev.ClientID, o.CRMOrderID, customerID, o.TotalCents, nullable(o.Currency), o.PaidAt).Scan(&orderID); err != nil {
			return fmt.Errorf("order: upsert: %w", err)
		}
		var ltv int64
		if err := tx.QueryRow(ctx, qUpdateLTV, customerID).Scan(&ltv); err != nil {
			return fmt.Errorf("order: lifetime value: %w", err)
		}
		return s.qualify(ctx, tx, ev.ClientID, customerID, orderID, o, ltv, &res)
	})
	if err != nil {
		return OrderResult{}, err
	}
	return res, nil
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
		err := tx.QueryRow(ctx, qCustomerByCRMID, clientID, o.CustomerCRMID).Scan(&id)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return "", fmt.Errorf("order: customer by crm id: %w", err)
		}
	}
	if o.Email == "" {
		if o.CustomerCRMID == "" {
			return "", apperr.BadRequestf("the order has neither a customer id nor an email")
		}
		return "", ErrNeedCustomer
	}
	var crmID *string
	if o.CustomerCRMID != "" {
		crmID = &o.CustomerCRMID
	}
	err := tx.QueryRow(ctx, qUpsertOrderCustomer, clientID, o.Email, strings.TrimSpace(o.FirstName), strings.TrimSpace(o.LastName), crmID).Scan(&id)
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
	err := tx.QueryRow(ctx, qQualifyingTier, clientID, o.TotalCents, ltv).Scan(&tier.id, &tier.rank, &tier.duration)
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
	err = tx.QueryRow(ctx, qActiveEnrollment, customerID).Scan(&cur.id, &cur.tierID, &cur.rank, &cur.expiresAt)
	hasActive := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("order: active enrollment: %w", err)
	}
	var crmID *string
	if err := tx.QueryRow(ctx, `SELECT crm_id FROM customers WHERE id = $1`, customerID).Scan(&crmID); err != nil {
		return fmt.Errorf("order: customer crm id: %w", err)
	}

	switch {
	case hasActive && cur.rank > tier.rank:
		return nil // already in a better tier
	case hasActive && cur.rank == tier.rank:
		var newExpires time.Time
		if err := tx.QueryRow(ctx, qRenew, cur.id, o.PaidAt, tier.duration).Scan(&newExpires); err != nil {
			return fmt.Errorf("order: renew: %w", err)
		}
		if newExpires.Equal(cur.expiresAt) {
			return nil // an older order: the membership already runs longer
		}
		if _, err := tx.Exec(ctx, qOrderEvent, cur.id, "renewed", cur.tierID, cur.tierID, cur.expiresAt, newExpires, orderID); err != nil {
			return fmt.Errorf("order: renew event: %w", err)
		}
		res.Action, res.EnrollmentID = OrderRenewed, cur.id
		return nil
	}

	// A new enrollment: the customer's first, or an upgrade. An old order replayed whose
	// membership would already be over changes nothing.
	var current bool
	if err := tx.QueryRow(ctx, qStillRunning, o.PaidAt, tier.duration).Scan(&current); err != nil {
		return fmt.Errorf("order: expiry: %w", err)
	}
	if !current {
		return nil
	}
	if hasActive {
		// The old enrollment ends first: one active enrollment per customer.
		if _, err := tx.Exec(ctx, qEndEnrollment, cur.id, EnrollmentUpgraded); err != nil {
			return fmt.Errorf("order: end enrollment: %w", err)
		}
	}
	var e Enrollment
	err = tx.QueryRow(ctx, qInsertOrderEnrollment, clientID, customerID, tier.id, o.PaidAt, tier.duration, orderID).
		Scan(&e.ID, &e.Status, &e.ClientID, &e.TierID, &e.CustomerID, &e.EnrolledAt, &e.ExpiresAt, &e.CRMMembershipID)
	if err != nil {
		return fmt.Errorf("order: enrollment: %w", err)
	}
	job := queue.NewJob{ClientID: clientID, CustomerID: customerID, EnrollmentID: &e.ID, ActionType: queue.ActionAdd,
		TierID: tier.id, CustomerCRMID: crmID, Priority: queue.PriorityNormal}
	event, oldTier, oldExpires := "enrolled", (*string)(nil), (*time.Time)(nil)
	res.Action = OrderEnrolled
	if hasActive {
		job.ActionType, job.OldTierID = queue.ActionUpgrade, &cur.tierID
		event, oldTier, oldExpires = "upgraded", &cur.tierID, &cur.expiresAt
		res.Action = OrderUpgraded
	}
	if _, err := tx.Exec(ctx, qOrderEvent, e.ID, event, oldTier, tier.id, oldExpires, e.ExpiresAt, orderID); err != nil {
		return fmt.Errorf("order: event: %w", err)
	}
	if _, err := tx.Exec(ctx, qSetMember, customerID, tier.id); err != nil {
		return fmt.Errorf("order: customer flags: %w", err)
	}
	ids, err := queue.Enqueue(ctx, tx, job)
	if err != nil {
		return err
	}
	res.EnrollmentID, res.QueueID = e.ID, ids[0]
	return nil
}
