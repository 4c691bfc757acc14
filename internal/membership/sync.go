package membership

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/apperr"
	"tiersync/internal/crm"
	"tiersync/internal/db"
)

// SyncRef names what a queue row is about: the ids the row holds.
type SyncRef struct {
	ClientID, CustomerID, TierID string
	OldTierID, EnrollmentID      *string
}

// SyncSubject is what the syncer needs to turn a queue row into CRM calls.
type SyncSubject struct {
	CRMType, Tenant string
	Customer        crm.Customer
	// StoredCRMID is customers.crm_id as stored ("" when not yet known).
	StoredCRMID string
	Tier        crm.Tier
	OldTier     *crm.Tier
	// The enrollment's fields are zero when the row has none.
	EnrolledAt, ExpiresAt *time.Time
	MembershipID          string
}

// SyncSubject reads what ref points at, as it is now. A client, customer or tier that no
// longer exists is NotFound.
func (s *Store) SyncSubject(ctx context.Context, ref SyncRef) (SyncSubject, error) {
	var sub SyncSubject
	var addr []byte
	var oldID *string
	var old crm.Tier
	err := s.pool.QueryRow(ctx, sqlSyncSubject, pgx.StrictNamedArgs{
		"client_id": ref.ClientID, "customer_id": ref.CustomerID, "tier_id": ref.TierID,
		"old_tier_id": ref.OldTierID, "enrollment_id": ref.EnrollmentID,
	}).Scan(&sub.CRMType, &sub.Tenant,
		&sub.Customer.Email, &sub.Customer.FirstName, &sub.Customer.LastName, &sub.Customer.Phone, &addr, &sub.Customer.CRMID,
		&sub.Tier.ID, &sub.Tier.Name, &sub.Tier.C7ClubID, &sub.Tier.C7DeliveryMethod, &sub.Tier.PickupLocationID, &sub.Tier.ShopifyTag,
		&oldID, &old.Name, &old.C7ClubID, &old.C7DeliveryMethod, &old.PickupLocationID, &old.ShopifyTag,
		&sub.EnrolledAt, &sub.ExpiresAt, &sub.MembershipID)
	if errors.Is(err, pgx.ErrNoRows) {
		return SyncSubject{}, apperr.NotFoundf("the client, customer or tier of this row no longer exists")
	}
	if err != nil {
		return SyncSubject{}, fmt.Errorf("read sync subject of customer %s: %w", ref.CustomerID, err)
	}
	if oldID != nil {
		old.ID = *oldID
		sub.OldTier = &old
	}
	if len(addr) > 0 {
		var a crm.Address
		if err := json.Unmarshal(addr, &a); err != nil {
			return SyncSubject{}, apperr.Invalidf("customer %s: stored address: %v", ref.CustomerID, err)
		}
		sub.Customer.Address = &a
	}
	sub.StoredCRMID = sub.Customer.CRMID
	return sub, nil
}

// SetCustomerCRMID records a customer's CRM id once the CRM told it. A CRM id already
// linked to another customer of the client is a Conflict: two of our customers (two
// emails) resolved to one CRM customer, which an operator must merge.
func (s *Store) SetCustomerCRMID(ctx context.Context, customerID, crmID string) error {
	_, err := s.pool.Exec(ctx, sqlCustomerSetCRMID, pgx.StrictNamedArgs{"customer_id": customerID, "crm_id": crmID})
	if _, dup := db.UniqueViolation(err); dup {
		return apperr.Conflictf("CRM customer %s is already linked to another customer of this client", crmID)
	}
	if err != nil {
		return fmt.Errorf("store customer CRM id: %w", err)
	}
	return nil
}

// SetMembershipID records the CRM's membership id on an enrollment.
func (s *Store) SetMembershipID(ctx context.Context, enrollmentID, membershipID string) error {
	if _, err := s.pool.Exec(ctx, sqlEnrollmentSetMembershipID,
		pgx.StrictNamedArgs{"enrollment_id": enrollmentID, "membership_id": membershipID}); err != nil {
		return fmt.Errorf("store membership id of enrollment %s: %w", enrollmentID, err)
	}
	return nil
}
