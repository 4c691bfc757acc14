package reconcile

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/membership"
	"tiersync/internal/queue"
)

// Repairs (reconcile_differences.repair).
const (
	RepairQueueAdd     = "queue_add"     // the CRM gets the membership (add_membership)
	RepairQueueCancel  = "queue_cancel"  // the CRM loses the membership (cancel_membership)
	RepairQueueUpgrade = "queue_upgrade" // the CRM moves to our tier (upgrade_membership)
	RepairCancelHere   = "cancel_here"   // our enrollment ends (crm_wins)
	RepairEnrollHere   = "enroll_here"   // an enrollment of the CRM's tier is made here (crm_wins)
	RepairMoveHere     = "move_here"     // our enrollment moves to the CRM's tier (crm_wins)
	RepairRelink       = "relink"        // our customer takes the CRM's customer id
	RepairNone         = "none"          // a person decides (detail says why)
)

// Difference statuses.
const (
	StatusFound     = "found"
	StatusConfirmed = "confirmed" // a dry run's: confirmed, not repaired
	StatusRepaired  = "repaired"
	StatusGone      = "gone"
	StatusSkipped   = "skipped"
)

// found is a confirmed difference with what its repair needs.
type found struct {
	id                              int64
	kind, repair                    string
	customerID                      *string
	crmCustomerID                   string
	enrollmentID, tierID, crmTierID *string
	membershipID                    string
	email                           *string
}

func scanFound(row pgx.CollectableRow) (found, error) {
	var f found
	err := row.Scan(&f.id, &f.kind, &f.repair, &f.customerID, &f.crmCustomerID, &f.enrollmentID, &f.tierID, &f.crmTierID,
		&f.membershipID, &f.email)
	return f, err
}

// repair applies f's repair inside the transaction that confirmed it (a dry run only
// records it as confirmed), records what became of it, and returns that.
func repair(ctx context.Context, tx pgx.Tx, ru *run, f found) (string, error) {
	status, detail, queueID := StatusConfirmed, "", (*int64)(nil)
	if !ru.dryRun {
		var err error
		status, detail, queueID, err = apply(ctx, tx, ru, f)
		if err != nil {
			return "", fmt.Errorf("difference %d (%s): %w", f.id, f.kind, err)
		}
	}
	if _, err := tx.Exec(ctx, qMark, pgx.StrictNamedArgs{"id": f.id, "status": status, "detail": detail, "queue_id": queueID,
		"only_found": false}); err != nil {
		return "", fmt.Errorf("difference %d: record: %w", f.id, err)
	}
	return status, nil
}

// apply makes one repair; a repair that no longer fits (the enrollment ended meanwhile,
// the customer was enrolled) is skipped with the reason.
func apply(ctx context.Context, tx pgx.Tx, ru *run, f found) (status, detail string, queueID *int64, err error) {
	clientID := ru.client.ID
	switch f.repair {
	case RepairQueueAdd, RepairQueueUpgrade:
		var crmID *string
		err := tx.QueryRow(ctx, qEnrollmentActive, pgx.StrictNamedArgs{"enrollment_id": f.enrollmentID, "tier_id": f.tierID}).Scan(&crmID)
		if errors.Is(err, pgx.ErrNoRows) {
			return StatusSkipped, "the enrollment is no longer active in that tier", nil, nil
		}
		if err != nil {
			return "", "", nil, fmt.Errorf("enrollment: %w", err)
		}
		job := queue.NewJob{ActionType: queue.ActionAdd, Priority: queue.PriorityLow, ClientID: clientID, CustomerID: *f.customerID,
			EnrollmentID: f.enrollmentID, TierID: *f.tierID, CustomerCRMID: crmID}
		if f.repair == RepairQueueUpgrade {
			job.ActionType, job.OldTierID = queue.ActionUpgrade, f.crmTierID
		}
		return enqueue(ctx, tx, job)
	case RepairQueueCancel:
		customerID, why, err := ensureCustomer(ctx, tx, clientID, f)
		if err != nil || why != "" {
			return StatusSkipped, why, nil, err
		}
		job := queue.NewJob{ActionType: queue.ActionCancel, Priority: queue.PriorityLow, ClientID: clientID, CustomerID: customerID,
			TierID: *f.crmTierID, CustomerCRMID: &f.crmCustomerID}
		if f.kind == KindAfterExpiry {
			job.EnrollmentID = f.enrollmentID // the expired enrollment, as the expiration job queues it
		}
		return enqueue(ctx, tx, job)
	case RepairCancelHere:
		var n int64
		if err := tx.QueryRow(ctx, qRepairCancelHere, pgx.StrictNamedArgs{"enrollment_id": f.enrollmentID, "job_run_id": ru.jobRunID}).Scan(&n); err != nil {
			return "", "", nil, fmt.Errorf("cancel enrollment: %w", err)
		}
		if n == 0 {
			return StatusSkipped, "the enrollment is no longer active", nil, nil
		}
	case RepairEnrollHere:
		customerID, why, err := ensureCustomer(ctx, tx, clientID, f)
		if err != nil || why != "" {
			return StatusSkipped, why, nil, err
		}
		var id string
		err = tx.QueryRow(ctx, qRepairEnrollHere, pgx.StrictNamedArgs{"client_id": clientID, "customer_id": customerID,
			"tier_id": f.crmTierID, "membership_id": f.membershipID, "job_run_id": ru.jobRunID}).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return StatusSkipped, "the customer has an active enrollment by now", nil, nil
		}
		if err != nil {
			return "", "", nil, fmt.Errorf("enroll: %w", err)
		}
	case RepairMoveHere:
		var n int64
		if err := tx.QueryRow(ctx, qRepairMoveHere, pgx.StrictNamedArgs{"enrollment_id": f.enrollmentID, "tier_id": f.tierID,
			"crm_tier_id": f.crmTierID, "membership_id": f.membershipID, "job_run_id": ru.jobRunID}).Scan(&n); err != nil {
			return "", "", nil, fmt.Errorf("move enrollment: %w", err)
		}
		if n == 0 {
			return StatusSkipped, "the enrollment is no longer active in that tier", nil, nil
		}
	case RepairRelink:
		tag, err := tx.Exec(ctx, qRepairRelink, pgx.StrictNamedArgs{"customer_id": f.customerID, "crm_customer_id": f.crmCustomerID})
		if err != nil {
			return "", "", nil, fmt.Errorf("relink: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return StatusSkipped, "another customer of ours has that CRM id", nil, nil
		}
	default:
		return StatusSkipped, "", nil, nil
	}
	return StatusRepaired, "", nil, nil
}

func enqueue(ctx context.Context, tx pgx.Tx, job queue.NewJob) (string, string, *int64, error) {
	ids, err := queue.Enqueue(ctx, tx, job)
	if err != nil {
		return "", "", nil, err
	}
	return StatusRepaired, "", &ids[0], nil
}

// ensureCustomer is f's customer of ours, made from the CRM's customer when we had none
// (why says when that cannot be).
func ensureCustomer(ctx context.Context, tx pgx.Tx, clientID string, f found) (id, why string, err error) {
	if f.customerID != nil {
		return *f.customerID, "", nil
	}
	if f.email == nil || *f.email == "" {
		return "", "the CRM's customer has no email: tiersync cannot keep a customer for it; fix it in the CRM", nil
	}
	email, err := membership.CheckEmail("the CRM customer's email", *f.email)
	if err != nil {
		return "", err.Error(), nil
	}
	err = tx.QueryRow(ctx, qImportCustomer, pgx.StrictNamedArgs{"client_id": clientID, "email": email,
		"crm_customer_id": f.crmCustomerID}).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "a customer of ours has this email or CRM id already", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("import customer: %w", err)
	}
	return id, "", nil
}
