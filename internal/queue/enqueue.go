package queue

import (
	"context"
	"fmt"

	"tiersync/internal/db"
)

// Channel is the NOTIFY channel that wakes the workers.
const Channel = "tiersync_queue"

// NewJob is a row to enqueue.
type NewJob struct {
	ClientID      string
	CustomerID    string
	EnrollmentID  *string
	ActionType    string
	TierID        string
	OldTierID     *string
	CustomerCRMID *string
	Priority      int
	// MaxAttempts defaults to 5.
	MaxAttempts int
}

// DefaultMaxAttempts is a row's attempt limit unless the enqueuer says otherwise.
const DefaultMaxAttempts = 5

// Enqueue inserts jobs inside the caller's transaction, so they commit (and become
// visible to workers) together with the change that caused them, or not at all. It also
// queues a NOTIFY, which PostgreSQL delivers at commit and folds into one per transaction
// however many times it is called. It returns the new rows' ids in the order given.
func Enqueue(ctx context.Context, tx db.Querier, jobs ...NewJob) ([]int64, error) {
	if len(jobs) == 0 {
		return nil, nil
	}
	n := len(jobs)
	var (
		clients, customers, actions, tiers = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		enrollments, oldTiers, crmIDs      = make([]*string, n), make([]*string, n), make([]*string, n)
		priorities, maxAttempts            = make([]int32, n), make([]int32, n)
	)
	for i, j := range jobs {
		clients[i], customers[i], actions[i], tiers[i] = j.ClientID, j.CustomerID, j.ActionType, j.TierID
		enrollments[i], oldTiers[i], crmIDs[i] = j.EnrollmentID, j.OldTierID, j.CustomerCRMID
		priorities[i], maxAttempts[i] = int32(j.Priority), int32(j.MaxAttempts)
		if maxAttempts[i] == 0 {
			maxAttempts[i] = DefaultMaxAttempts
		}
	}
	rows, err := tx.Query(ctx, qEnqueue, clients, customers, enrollments, actions, tiers, oldTiers, crmIDs, priorities, maxAttempts)
	if err != nil {
		return nil, fmt.Errorf("enqueue %d job(s): %w", n, err)
	}
	ids := make([]int64, 0, n)
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("enqueue: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
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
	if _, err := tx.Exec(ctx, qNotify, Channel); err != nil {
		return fmt.Errorf("notify workers: %w", err)
	}
	return nil
}
