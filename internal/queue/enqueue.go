package queue

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/db"
)

// NewJob is a row to enqueue.
type NewJob struct {
	// The engine's fields.

	// ActionType is the kind of work (ActionAdd, ActionCancel, ActionUpgrade).
	ActionType string
	// RateKey names the rate bucket the row's requests draw from (see SetRate); OrderKey
	// groups rows that must apply one at a time, in id order. Empty: the schema's default
	// (today's mapping, the client's and the customer's id), for callers that predate them.
	RateKey  string
	OrderKey string
	Priority int
	// MaxAttempts defaults to DefaultMaxAttempts.
	MaxAttempts int

	// The domain's columns of crm_sync_queue (the seeds' names): stored as given for the
	// handler and the operators, never read nor interpreted by the engine.
	ClientID      string
	CustomerID    string
	EnrollmentID  *string
	TierID        string
	OldTierID     *string
	CustomerCRMID *string
}

// DefaultMaxAttempts is a row's attempt limit unless the enqueuer says otherwise.
const DefaultMaxAttempts = 5

// Enqueue inserts jobs inside the caller's transaction, so they commit (and become
// visible to workers) together with the change that caused them, or not at all. It also
// queues a NOTIFY, which PostgreSQL delivers at commit and folds into one per transaction
// however many times it is called. It returns the new rows' ids in the order given.
//
// A row is claimed only once its rate key has a bucket (SetRate); the schema gives every
// client one.
func Enqueue(ctx context.Context, tx db.Querier, jobs ...NewJob) ([]int64, error) {
	if len(jobs) == 0 {
		return nil, nil
	}
	n := len(jobs)
	var (
		clientIDs, customerIDs, actions, tierIDs = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		enrollmentIDs, oldTierIDs, crmIDs        = make([]*string, n), make([]*string, n), make([]*string, n)
		rateKeys, orderKeys                      = make([]string, n), make([]string, n)
		priorities, maxAttempts                  = make([]int32, n), make([]int32, n)
	)
	for i, j := range jobs {
		clientIDs[i], customerIDs[i], actions[i], tierIDs[i] = j.ClientID, j.CustomerID, j.ActionType, j.TierID
		enrollmentIDs[i], oldTierIDs[i], crmIDs[i] = j.EnrollmentID, j.OldTierID, j.CustomerCRMID
		rateKeys[i], orderKeys[i] = j.RateKey, j.OrderKey
		priorities[i], maxAttempts[i] = int32(j.Priority), int32(j.MaxAttempts)
		if maxAttempts[i] == 0 {
			maxAttempts[i] = DefaultMaxAttempts
		}
	}
	rows, err := tx.Query(ctx, sqlEnqueue, pgx.StrictNamedArgs{
		"client_ids": clientIDs, "customer_ids": customerIDs, "enrollment_ids": enrollmentIDs, "actions": actions,
		"tier_ids": tierIDs, "old_tier_ids": oldTierIDs, "customer_crm_ids": crmIDs, "rate_keys": rateKeys,
		"order_keys": orderKeys, "priorities": priorities, "max_attempts": maxAttempts,
	})
	if err != nil {
		return nil, fmt.Errorf("enqueue %d job(s): %w", n, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("enqueue %d job(s): %w", n, err)
	}
	if err := Notify(ctx, tx); err != nil {
		return nil, err
	}
	return ids, nil
}

// Notify wakes the workers when the caller's transaction commits. Code that inserts rows
// with its own SQL (the expiration job's bulk insert) calls it once per transaction.
func Notify(ctx context.Context, tx db.Querier) error {
	if _, err := tx.Exec(ctx, sqlNotify, pgx.StrictNamedArgs{"channel": Channel}); err != nil {
		return fmt.Errorf("notify workers: %w", err)
	}
	return nil
}
