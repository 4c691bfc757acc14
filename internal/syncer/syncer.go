// Package syncer turns one claimed crm_sync_queue row into CRM calls: it reads the row's
// ids (the queue engine hands over only its own fields), asks the membership layer what
// they point at, picks the client's Provider, runs the operation, records through the
// membership layer what the CRM answered (the customer's CRM id, the enrollment's
// membership id) and maps the CRM's error class to the queue's outcome. It is the queue's
// Handler, and reads or writes no table itself.
package syncer

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/apperr"
	"tiersync/internal/crm"
	"tiersync/internal/membership"
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
	pool      *pgxpool.Pool // the queue's rows are read through queue.ReadItem
	store     *membership.Store
	providers map[string]ProviderFunc // by crm_type
}

// New makes a Syncer; providers maps a crm_type to its ProviderFunc. A crm_type without
// one (its credentials are not configured) fails its rows' attempts with a message that
// says so; they are retried, and an operator can retry them once it is configured.
func New(pool *pgxpool.Pool, store *membership.Store, providers map[string]ProviderFunc) *Syncer {
	return &Syncer{pool: pool, store: store, providers: providers}
}

// job is a queue row with what it is about.
type job struct {
	item    queue.Item
	client  Client
	subject membership.SyncSubject
}

// load reads queue row j.ID and what it points at.
func (s *Syncer) load(ctx context.Context, j queue.Job) (*job, error) {
	it, err := queue.ReadItem(ctx, s.pool, j.ID)
	if err != nil {
		return nil, fmt.Errorf("row #%d: load: %w", j.ID, err)
	}
	sub, err := s.store.SyncSubject(ctx, membership.SyncRef{ClientID: it.ClientID, CustomerID: it.CustomerID,
		TierID: it.TierID, OldTierID: it.OldTierID, EnrollmentID: it.EnrollmentID})
	if e, ok := apperr.As(err); ok && e.Kind != apperr.Internal {
		// The foreign keys make a missing part a client deleted under the row (its rows go
		// with it), and a bad stored address cannot be fixed by retrying: nothing to sync.
		return nil, queue.Permanent(fmt.Errorf("row #%d: %w", j.ID, err))
	}
	if err != nil {
		return nil, fmt.Errorf("row #%d: load: %w", j.ID, err)
	}
	if sub.Customer.CRMID == "" && it.CustomerCRMID != nil {
		sub.Customer.CRMID = *it.CustomerCRMID
	}
	return &job{item: it, client: Client{ID: it.ClientID, CRMType: sub.CRMType, Tenant: sub.Tenant}, subject: sub}, nil
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
		return outcome(j.ID, fmt.Errorf("%s provider: %w", r.client.CRMType, err))
	}
	sub := r.subject
	change := crm.MembershipChange{Customer: sub.Customer, Tier: sub.Tier, OldTier: sub.OldTier,
		MembershipID: sub.MembershipID}
	if sub.EnrolledAt != nil {
		change.EnrolledAt, change.ExpiresAt = *sub.EnrolledAt, *sub.ExpiresAt
	}

	if j.ActionType == queue.ActionCancel {
		// A cancel never creates the customer: one the CRM never knew has nothing to cancel.
		return outcome(j.ID, p.CancelMembership(ctx, change, crm.ReasonExpired))
	}

	crmID, created, err := p.EnsureCustomer(ctx, sub.Customer)
	if err != nil {
		return outcome(j.ID, err)
	}
	if crmID != sub.StoredCRMID {
		err := s.store.SetCustomerCRMID(ctx, r.item.CustomerID, crmID)
		if e, ok := apperr.As(err); ok && e.Kind == apperr.Conflict {
			// An operator must merge the two customers; retrying cannot help.
			return queue.Permanent(err)
		}
		if err != nil {
			return err
		}
	}
	change.Customer.CRMID, change.Customer.Created = crmID, created

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
		return outcome(j.ID, err)
	}
	if membershipID != "" && r.item.EnrollmentID != nil {
		if err := s.store.SetMembershipID(ctx, *r.item.EnrollmentID, membershipID); err != nil {
			return fmt.Errorf("row #%d: %w", j.ID, err)
		}
	}
	return nil
}

// outcome maps a CRM error class to what the queue does with the row. A permanent
// failure names its row, so that a message such as "add a card …, then retry the queue
// row" tells the operator which one.
func outcome(id int64, err error) error {
	if err == nil {
		return nil
	}
	switch crm.ClassOf(err) {
	case crm.Permanent:
		return queue.Permanent(fmt.Errorf("row #%d: %w", id, err))
	case crm.Throttled:
		var e *crm.Error
		errors.As(err, &e)
		return queue.Throttled(e.RetryAfter, err)
	default:
		return err
	}
}
