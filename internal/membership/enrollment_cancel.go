package membership

import (
	"context"
	_ "embed" // the statement below
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/apperr"
	"tiersync/internal/db"
	"tiersync/internal/queue"
)

//go:embed sql/enrollment_for_cancel.sql
var sqlEnrollmentForCancel string

// Causes of an operator's cancel (enrollment_events.cause).
const (
	CauseAPI   = "api"
	CauseAdmin = "admin"
)

// CancelEnrollment ends an active enrollment by an operator's decision (cause CauseAPI or
// CauseAdmin). In ONE transaction, as the expiration does for an expired one: the
// enrollment becomes cancelled, a 'cancelled' enrollment_events line records its tier and
// expiry, the customer's flags are cleared where it was their current tier, and a
// cancel_membership row is queued (an add of the same enrollment that never started is
// coalesced with it by the queue's trigger: both cancelled, no CRM call). An enrollment
// that is not active is a 409 that says its status. It answers as GetEnrollment does, so
// Sync is the cancel row (or the add it superseded).
func (s *Store) CancelEnrollment(ctx context.Context, id, cause string) (Enrollment, *Sync, error) {
	if err := CheckUUID("enrollment id", id); err != nil {
		return Enrollment{}, nil, err
	}
	if cause != CauseAPI && cause != CauseAdmin {
		return Enrollment{}, nil, fmt.Errorf("cancel enrollment: unknown cause %q", cause)
	}
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var cur struct {
			status, clientID, customerID, tierID string
			expiresAt                            time.Time
			crmID                                *string
		}
		err := tx.QueryRow(ctx, sqlEnrollmentForCancel, pgx.StrictNamedArgs{"id": id}).
			Scan(&cur.status, &cur.clientID, &cur.customerID, &cur.tierID, &cur.expiresAt, &cur.crmID)
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.NotFoundf("enrollment %s not found", id)
		}
		if err != nil {
			return fmt.Errorf("cancel enrollment %s: read: %w", id, err)
		}
		if cur.status != EnrollmentActive {
			return apperr.Conflictf("enrollment %s is %s; only an active enrollment can be cancelled", id, cur.status).
				With("status", cur.status)
		}
		if _, err := tx.Exec(ctx, sqlEnrollmentEnd, pgx.StrictNamedArgs{"id": id, "status": EnrollmentCancelled}); err != nil {
			return fmt.Errorf("cancel enrollment %s: %w", id, err)
		}
		if _, err := tx.Exec(ctx, sqlEnrollmentEventInsert, pgx.StrictNamedArgs{
			"enrollment_id": id, "event": EnrollmentCancelled, "old_tier_id": cur.tierID, "new_tier_id": nil,
			"old_expires_at": cur.expiresAt, "new_expires_at": nil, "cause": cause, "order_id": nil,
		}); err != nil {
			return fmt.Errorf("cancel enrollment %s: event: %w", id, err)
		}
		// One active enrollment per customer: with this one ended, the customer is no
		// member, unless their flags already name another tier (never, but the
		// expiration's rule costs nothing here).
		if _, err := tx.Exec(ctx, sqlCustomerClearMember, pgx.StrictNamedArgs{"id": cur.customerID, "tier_id": cur.tierID}); err != nil {
			return fmt.Errorf("cancel enrollment %s: customer flags: %w", id, err)
		}
		// Normal priority: an operator's single cancel goes before the nightly bulk of
		// expirations (low), after enrollments a member is waiting on (high).
		_, err = queue.Enqueue(ctx, tx, queue.NewJob{ClientID: cur.clientID, CustomerID: cur.customerID, EnrollmentID: &id,
			ActionType: queue.ActionCancel, TierID: cur.tierID, CustomerCRMID: cur.crmID, Priority: queue.PriorityNormal,
			RateKey: RateKey(cur.clientID), OrderKey: orderKey(cur.customerID)})
		if err != nil {
			return fmt.Errorf("cancel enrollment %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return Enrollment{}, nil, err
	}
	return s.GetEnrollment(ctx, id)
}
