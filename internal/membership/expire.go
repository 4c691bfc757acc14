package membership

import (
	"context"
	"fmt"
	"time"
)

// DefaultExpireBatch is how many enrollments one expiration transaction handles: small
// enough that no lock is held for long, large enough that a million take seconds.
const DefaultExpireBatch = 5000

// ExpireResult counts what an expiration run did.
type ExpireResult struct {
	Expired int `json:"expired"`
	Queued  int `json:"queued"`
	Batches int `json:"batches"`
}

// Expire expires every enrollment past expires_at, one batch (one transaction, the SQL
// function process_expired_enrollments) at a time, until a batch finds none. runID, when
// set, is recorded on the enrollment events (the job run that did it).
func (s *Store) Expire(ctx context.Context, batchSize int, runID *int64) (ExpireResult, error) {
	if batchSize <= 0 {
		batchSize = DefaultExpireBatch
	}
	var total ExpireResult
	for {
		var expired, queued int
		if err := s.pool.QueryRow(ctx, qExpireBatch, batchSize, runID).Scan(&expired, &queued); err != nil {
			return total, fmt.Errorf("expire: batch %d: %w", total.Batches+1, err)
		}
		if expired == 0 {
			return total, nil
		}
		total.Expired += expired
		total.Queued += queued
		total.Batches++
	}
}

// DueEnrollment is an enrollment the next expiration run would expire.
type DueEnrollment struct {
	EnrollmentID string    `json:"enrollment_id"`
	ClientID     string    `json:"client_id"`
	CustomerID   string    `json:"customer_id"`
	TierID       string    `json:"tier_id"`
	Email        string    `json:"email"`
	ExpiresAt    time.Time `json:"expires_at"`
}

// ExpireDryRun counts what Expire would expire now and lists the first limit of them,
// changing nothing.
func (s *Store) ExpireDryRun(ctx context.Context, limit int) (int, []DueEnrollment, error) {
	var n int
	if err := s.pool.QueryRow(ctx, qCountDue).Scan(&n); err != nil {
		return 0, nil, fmt.Errorf("expire dry run: %w", err)
	}
	rows, err := s.pool.Query(ctx, qListDue, limit)
	if err != nil {
		return 0, nil, fmt.Errorf("expire dry run: %w", err)
	}
	defer rows.Close()
	due := []DueEnrollment{}
	for rows.Next() {
		var d DueEnrollment
		if err := rows.Scan(&d.EnrollmentID, &d.ClientID, &d.CustomerID, &d.TierID, &d.Email, &d.ExpiresAt); err != nil {
			return 0, nil, fmt.Errorf("expire dry run: %w", err)
		}
		d.ExpiresAt = d.ExpiresAt.UTC()
		due = append(due, d)
	}
	return n, due, rows.Err()
}
