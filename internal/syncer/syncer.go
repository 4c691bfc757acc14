// Package syncer turns one claimed crm_sync_queue row into CRM calls: it reads the row's
// domain columns by its id (the queue engine hands over only its own fields) and loads
// what the row is about, picks the client's Provider, runs the operation, records what the CRM
// answered (the customer's CRM id, the enrollment's membership id) and maps the CRM's
// error class to the queue's outcome. It is the queue's Handler.
package syncer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/crm"
	"tiersync/internal/db"
	"tiersync/internal/queue"
)

// Client is what a ProviderFunc needs to build a client's Provider.
type Client struct {
	ID      string
	CRMType string
	Tenant  string
}

// ProviderFunc builds the Provider of one client.
type ProviderFunc func(ctx context.Context, c Client) (crm.Provider, error)

// Syncer is the queue's Handler.
type Syncer struct {
	pool      *pgxpool.Pool
	providers map[string]ProviderFunc // by crm_type
}

// New makes a Syncer; providers maps a crm_type to its ProviderFunc. A crm_type without
// one (its credentials are not configured) fails its rows' attempts with a message that
// says so; they are retried, and an operator can retry them once it is configured.
func New(pool *pgxpool.Pool, providers map[string]ProviderFunc) *Syncer {
	return &Syncer{pool: pool, providers: providers}
}

// job is a queue row with what it is about.
type job struct {
	customerID   string
	enrollmentID *string
	client       Client
	customer     crm.Customer
	storedID     string // customers.crm_id as stored
	tier         crm.Tier
	oldTier      *crm.Tier
	enrollment   struct {
		enrolledAt, expiresAt *time.Time
		membershipID          string
	}
}

// load reads queue row j.ID's domain columns and what they point at.
func (s *Syncer) load(ctx context.Context, j queue.Job) (*job, error) {
	var r job
	var addr []byte
	var oldID, queuedCRMID *string
	var old crm.Tier
	err := s.pool.QueryRow(ctx, sqlLoad, pgx.StrictNamedArgs{"id": j.ID}).Scan(
		&r.client.ID, &r.customerID, &r.enrollmentID, &queuedCRMID,
		&r.client.CRMType, &r.client.Tenant,
		&r.customer.Email, &r.customer.FirstName, &r.customer.LastName, &r.customer.Phone, &addr, &r.customer.CRMID,
		&r.tier.ID, &r.tier.Name, &r.tier.C7ClubID, &r.tier.C7DeliveryMethod, &r.tier.ShopifyTag,
		&oldID, &old.Name, &old.C7ClubID, &old.C7DeliveryMethod, &old.ShopifyTag,
		&r.enrollment.enrolledAt, &r.enrollment.expiresAt, &r.enrollment.membershipID)
	if errors.Is(err, pgx.ErrNoRows) {
		// The foreign keys make this a client deleted under the row (its rows go with it):
		// nothing to sync.
		return nil, queue.Permanent(fmt.Errorf("row #%d: the row, its client, customer or tier no longer exists", j.ID))
	}
	if err != nil {
		return nil, fmt.Errorf("row #%d: load: %w", j.ID, err)
	}
	if oldID != nil {
		old.ID = *oldID
		r.oldTier = &old
	}
	if len(addr) > 0 {
		var a crm.Address
		if err := json.Unmarshal(addr, &a); err != nil {
			return nil, queue.Permanent(fmt.Errorf("row #%d: customer address: %w", j.ID, err))
		}
		r.customer.Address = &a
	}
	r.storedID = r.customer.CRMID
	if r.customer.CRMID == "" && queuedCRMID != nil {
		r.customer.CRMID = *queuedCRMID
	}
	return &r, nil
}

// Handle runs one row. It is a queue.Handler.
func (s *Syncer) Handle(ctx context.Context, j queue.Job) error {
	r, err := s.load(ctx, j)
	if err != nil {
		return err
	}
	newProvider := s.providers[r.client.CRMType]
	if newProvider == nil {
		return fmt.Errorf("row #%d: no %s credentials configured on this replica", j.ID, r.client.CRMType)
	}
	p, err := newProvider(ctx, r.client)
	if err != nil {
		return outcome(fmt.Errorf("row #%d: %s provider: %w", j.ID, r.client.CRMType, err))
	}
	change := crm.MembershipChange{Customer: r.customer, Tier: r.tier, OldTier: r.oldTier,
		MembershipID: r.enrollment.membershipID}
	if r.enrollment.enrolledAt != nil {
		change.EnrolledAt, change.ExpiresAt = *r.enrollment.enrolledAt, *r.enrollment.expiresAt
	}

	if j.ActionType == queue.ActionCancel {
		// A cancel never creates the customer: one the CRM never knew has nothing to cancel.
		return outcome(p.CancelMembership(ctx, change, crm.ReasonExpired))
	}

	crmID, err := p.EnsureCustomer(ctx, r.customer)
	if err != nil {
		return outcome(err)
	}
	if crmID != r.storedID {
		if err := s.setCustomerCRMID(ctx, r.customerID, crmID); err != nil {
			return err
		}
	}
	change.Customer.CRMID = crmID

	var membershipID string
	switch j.ActionType {
	case queue.ActionAdd:
		membershipID, err = p.AddMembership(ctx, change)
	case queue.ActionUpgrade:
		membershipID, err = p.UpgradeMembership(ctx, change)
	default:
		return queue.Permanent(fmt.Errorf("row #%d: unknown action %q", j.ID, j.ActionType))
	}
	if err != nil {
		return outcome(err)
	}
	if membershipID != "" && r.enrollmentID != nil {
		if _, err := s.pool.Exec(ctx, sqlSetMembershipID,
			pgx.StrictNamedArgs{"enrollment_id": *r.enrollmentID, "membership_id": membershipID}); err != nil {
			return fmt.Errorf("row #%d: store membership id: %w", j.ID, err)
		}
	}
	return nil
}

func (s *Syncer) setCustomerCRMID(ctx context.Context, customerID, crmID string) error {
	_, err := s.pool.Exec(ctx, sqlSetCustomerCRMID, pgx.StrictNamedArgs{"customer_id": customerID, "crm_id": crmID})
	if _, dup := db.UniqueViolation(err); dup {
		// Two of our customers (two emails) resolved to one CRM customer: an operator must
		// merge them; retrying cannot help.
		return queue.Permanent(fmt.Errorf("CRM customer %s is already linked to another customer of this client", crmID))
	}
	if err != nil {
		return fmt.Errorf("store customer CRM id: %w", err)
	}
	return nil
}

// outcome maps a CRM error class to what the queue does with the row.
func outcome(err error) error {
	if err == nil {
		return nil
	}
	switch crm.ClassOf(err) {
	case crm.Permanent:
		return queue.Permanent(err)
	case crm.Throttled:
		var e *crm.Error
		errors.As(err, &e)
		return queue.Throttled(e.RetryAfter, err)
	default:
		return err
	}
}
