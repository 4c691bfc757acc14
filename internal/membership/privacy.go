package membership

// What the privacy requests (internal/privacy) need of the membership tables: find the
// customer a request names, read all we hold of them, redact them, delete a client. Each
// runs in the caller's transaction, so a redaction across every owner's tables commits
// whole or not at all.

import (
	"context"
	_ "embed" // the statements below
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/db"
)

var (
	//go:embed sql/customer_redact.sql
	sqlCustomerRedact string
	//go:embed sql/customer_privacy_get.sql
	sqlCustomerPrivacyGet string
	//go:embed sql/enrollment_list_by_customer.sql
	sqlEnrollmentListByCustomer string
	//go:embed sql/enrollment_event_list_by_customer.sql
	sqlEnrollmentEventListByCustomer string
	//go:embed sql/order_list_by_customer.sql
	sqlOrderListByCustomer string
	//go:embed sql/webhook_event_redact.sql
	sqlWebhookEventRedact string
	//go:embed sql/client_delete.sql
	sqlClientDelete string
)

// QueueOrderKey is the order key of a customer's queue rows: what the queue's privacy
// functions take to find them.
func QueueOrderKey(customerID string) string { return orderKey(customerID) }

// FindPrivacyCustomer finds, and locks, the customer of a client a privacy request names:
// by CRM id when one is given and known, else by email (any case). found is false when
// neither names one of ours.
func (s *Store) FindPrivacyCustomer(ctx context.Context, tx pgx.Tx, clientID, crmID, email string) (id string, found bool, err error) {
	if crmID != "" {
		err = tx.QueryRow(ctx, sqlCustomerByCRMID, pgx.StrictNamedArgs{"client_id": clientID, "crm_id": crmID}).Scan(&id)
		if err == nil {
			return id, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return "", false, fmt.Errorf("find the customer by crm id: %w", err)
		}
	}
	if email == "" {
		return "", false, nil
	}
	err = tx.QueryRow(ctx, sqlCustomerByEmail, pgx.StrictNamedArgs{"client_id": clientID, "email": email}).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("find the customer by email: %w", err)
	}
	return id, true, nil
}

// CustomerRecord is a customer row as a data request reports it.
type CustomerRecord struct {
	ID                 string          `json:"id"`
	Email              string          `json:"email"`
	FirstName          string          `json:"first_name"`
	LastName           string          `json:"last_name"`
	Phone              *string         `json:"phone"`
	Address            json.RawMessage `json:"address"`
	CRMID              *string         `json:"crm_id"`
	IsClubMember       bool            `json:"is_club_member"`
	CurrentTierID      *string         `json:"current_tier_id"`
	LifetimeValueCents int64           `json:"lifetime_value_cents"`
	CreatedAt          time.Time       `json:"created_at"`
	UpdatedAt          time.Time       `json:"updated_at"`
}

// EnrollmentRecord is an enrollment with its history.
type EnrollmentRecord struct {
	ID              string                  `json:"id"`
	Status          string                  `json:"status"`
	TierID          string                  `json:"tier_id"`
	TierName        string                  `json:"tier_name"`
	EnrolledAt      time.Time               `json:"enrolled_at"`
	ExpiresAt       time.Time               `json:"expires_at"`
	EndedAt         *time.Time              `json:"ended_at"`
	CRMMembershipID *string                 `json:"crm_membership_id"`
	Source          string                  `json:"source"`
	Events          []EnrollmentEventRecord `json:"events"`
}

// EnrollmentEventRecord is one enrollment_events row.
type EnrollmentEventRecord struct {
	Event        string     `json:"event"`
	OldTierID    *string    `json:"old_tier_id"`
	NewTierID    *string    `json:"new_tier_id"`
	OldExpiresAt *time.Time `json:"old_expires_at"`
	NewExpiresAt *time.Time `json:"new_expires_at"`
	Cause        string     `json:"cause"`
	CreatedAt    time.Time  `json:"created_at"`
}

// OrderRecord is one order row.
type OrderRecord struct {
	CRMOrderID string     `json:"crm_order_id"`
	Kind       string     `json:"kind"`
	TotalCents int64      `json:"total_cents"`
	Currency   *string    `json:"currency"`
	PaidAt     *time.Time `json:"paid_at"`
	VoidedAt   *time.Time `json:"voided_at"`
	CreatedAt  time.Time  `json:"created_at"`
}

// CustomerData is everything the membership tables hold of one customer.
type CustomerData struct {
	Customer    CustomerRecord     `json:"customer"`
	Enrollments []EnrollmentRecord `json:"enrollments"`
	Orders      []OrderRecord      `json:"orders"`
}

// CustomerData reads all we hold of a client's customer; found is false when the
// customer is gone.
func (s *Store) CustomerData(ctx context.Context, q db.Querier, clientID, customerID string) (d CustomerData, found bool, err error) {
	args := pgx.StrictNamedArgs{"id": customerID, "client_id": clientID}
	c := &d.Customer
	err = q.QueryRow(ctx, sqlCustomerPrivacyGet, args).Scan(&c.ID, &c.Email, &c.FirstName, &c.LastName, &c.Phone, &c.Address,
		&c.CRMID, &c.IsClubMember, &c.CurrentTierID, &c.LifetimeValueCents, &c.CreatedAt, &c.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return CustomerData{}, false, nil
	}
	if err != nil {
		return CustomerData{}, false, fmt.Errorf("read customer %s: %w", customerID, err)
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	args = pgx.StrictNamedArgs{"customer_id": customerID, "client_id": clientID}
	rows, err := q.Query(ctx, sqlEnrollmentListByCustomer, args)
	if err != nil {
		return CustomerData{}, false, fmt.Errorf("read the enrollments of customer %s: %w", customerID, err)
	}
	d.Enrollments, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (EnrollmentRecord, error) {
		var e EnrollmentRecord
		err := row.Scan(&e.ID, &e.Status, &e.TierID, &e.TierName, &e.EnrolledAt, &e.ExpiresAt, &e.EndedAt, &e.CRMMembershipID, &e.Source)
		e.EnrolledAt, e.ExpiresAt, e.EndedAt, e.Events = e.EnrolledAt.UTC(), e.ExpiresAt.UTC(), utcOrNil(e.EndedAt), []EnrollmentEventRecord{}
		return e, err
	})
	if err != nil {
		return CustomerData{}, false, fmt.Errorf("read the enrollments of customer %s: %w", customerID, err)
	}
	byID := map[string]*EnrollmentRecord{}
	for i := range d.Enrollments {
		byID[d.Enrollments[i].ID] = &d.Enrollments[i]
	}
	rows, err = q.Query(ctx, sqlEnrollmentEventListByCustomer, args)
	if err != nil {
		return CustomerData{}, false, fmt.Errorf("read the enrollment events of customer %s: %w", customerID, err)
	}
	var enrollmentID string
	var ev EnrollmentEventRecord
	_, err = pgx.ForEachRow(rows, []any{&enrollmentID, &ev.Event, &ev.OldTierID, &ev.NewTierID, &ev.OldExpiresAt, &ev.NewExpiresAt, &ev.Cause, &ev.CreatedAt}, func() error {
		if e := byID[enrollmentID]; e != nil {
			x := ev
			x.OldExpiresAt, x.NewExpiresAt, x.CreatedAt = utcOrNil(x.OldExpiresAt), utcOrNil(x.NewExpiresAt), x.CreatedAt.UTC()
			e.Events = append(e.Events, x)
		}
		return nil
	})
	if err != nil {
		return CustomerData{}, false, fmt.Errorf("read the enrollment events of customer %s: %w", customerID, err)
	}
	rows, err = q.Query(ctx, sqlOrderListByCustomer, args)
	if err != nil {
		return CustomerData{}, false, fmt.Errorf("read the orders of customer %s: %w", customerID, err)
	}
	d.Orders, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (OrderRecord, error) {
		var o OrderRecord
		err := row.Scan(&o.CRMOrderID, &o.Kind, &o.TotalCents, &o.Currency, &o.PaidAt, &o.VoidedAt, &o.CreatedAt)
		o.PaidAt, o.VoidedAt, o.CreatedAt = utcOrNil(o.PaidAt), utcOrNil(o.VoidedAt), o.CreatedAt.UTC()
		return o, err
	})
	if err != nil {
		return CustomerData{}, false, fmt.Errorf("read the orders of customer %s: %w", customerID, err)
	}
	if d.Enrollments == nil {
		d.Enrollments = []EnrollmentRecord{}
	}
	if d.Orders == nil {
		d.Orders = []OrderRecord{}
	}
	return d, true, nil
}

func utcOrNil(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// CustomerRedaction says whom a customers/redact names and what it knows of them.
type CustomerRedaction struct {
	ClientID string
	// CustomerID is our customer (FindPrivacyCustomer), "" when we hold none: the
	// webhook events that name the request's ids or mention its email or phone are still
	// redacted (an unpaid order is stored before its customer is).
	CustomerID string
	// CRMIDs name the customer in the CRM's payloads: the GID and its numeric id.
	CRMIDs []string
	// OrderIDs are the CRM order ids the request lists.
	OrderIDs []string
	// Email and Phone are the request's, in addition to the customer row's.
	Email, Phone string
}

// Redacted is what RedactCustomer changed, and the texts that were the customer's.
type Redacted struct {
	Customers     int64 `json:"customers"`
	WebhookEvents int64 `json:"webhook_events"`
	// Needles are the personal texts the customer row held (email, names, phone, the
	// address's values) and the request's email and phone: what the other owners scrub
	// from their free texts. Never stored.
	Needles []string `json:"-"`
}

// RedactCustomer replaces the customer's personal data by placeholders (the row stays,
// with its counts: orders, enrollments and lifetime value are not personal) and the
// payloads of the webhook events about them by {"redacted": true}, in tx.
func (s *Store) RedactCustomer(ctx context.Context, tx pgx.Tx, in CustomerRedaction) (Redacted, error) {
	var out Redacted
	mentions := nonEmpty(in.Email, in.Phone)
	out.Needles = append(out.Needles, mentions...)
	var customerID *string
	if in.CustomerID != "" {
		customerID = &in.CustomerID
		var email, first, last string
		var phone *string
		var address []byte
		err := tx.QueryRow(ctx, sqlCustomerRedact, pgx.StrictNamedArgs{"id": in.CustomerID, "client_id": in.ClientID}).
			Scan(&email, &first, &last, &phone, &address)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return Redacted{}, fmt.Errorf("redact customer %s: %w", in.CustomerID, err)
		default:
			out.Customers = 1
			contact := nonEmpty(email)
			if phone != nil {
				contact = append(contact, nonEmpty(*phone)...)
			}
			mentions = append(mentions, contact...)
			out.Needles = append(out.Needles, contact...)
			out.Needles = append(out.Needles, nonEmpty(strings.TrimSpace(first+" "+last), first, last)...)
			out.Needles = append(out.Needles, addressTexts(address)...)
		}
	}
	tag, err := tx.Exec(ctx, sqlWebhookEventRedact, pgx.StrictNamedArgs{"client_id": in.ClientID, "customer_id": customerID,
		"order_ids": nonNil(in.OrderIDs), "customer_ids": nonNil(in.CRMIDs), "mentions": nonNil(mentions), "needles": nonNil(out.Needles)})
	if err != nil {
		return Redacted{}, fmt.Errorf("redact the webhook events of the customer: %w", err)
	}
	out.WebhookEvents = tag.RowsAffected()
	return out, nil
}

// DeleteClient deletes a client and every membership row of it (shop/redact), in tx; the
// other owners have deleted theirs first. It reports whether the client was there.
func (s *Store) DeleteClient(ctx context.Context, tx pgx.Tx, clientID string) (bool, error) {
	tag, err := tx.Exec(ctx, sqlClientDelete, pgx.StrictNamedArgs{"id": clientID})
	if err != nil {
		return false, fmt.Errorf("delete client %s: %w", clientID, err)
	}
	return tag.RowsAffected() > 0, nil
}

// addressTexts are the string values of a stored address (street, city, zip …).
func addressTexts(raw []byte) []string {
	var a map[string]any
	if len(raw) == 0 || json.Unmarshal(raw, &a) != nil {
		return nil
	}
	var out []string
	for _, v := range a {
		if s, ok := v.(string); ok {
			out = append(out, nonEmpty(s)...)
		}
	}
	return out
}

// nonEmpty keeps the strings that are not blank, trimmed.
func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// nonNil makes a nil slice an empty one: NULL would make "= ANY" and scrub_text no-ops
// silently, an empty array says "none" on purpose.
func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}
