package membership

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
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

// ExpireParallel is how many batches run at once. SKIP LOCKED gives concurrent batches
// disjoint enrollments, and an enrollment's customer, cancel row and add row are its own,
// so batches never wait on each other; two keep two cores busy.
const ExpireParallel = 2

// Expire expires every enrollment past expires_at, one batch (one transaction, the SQL
// function process_expired_enrollments) at a time on each of ExpireParallel connections,
// until a batch finds none. runID, when set, is recorded on the enrollment events (the job
// run that did it).
func (s *Store) Expire(ctx context.Context, batchSize int, runID *int64) (ExpireResult, error) {
	if batchSize <= 0 {
		batchSize = DefaultExpireBatch
	}
	var (
		mu    sync.Mutex
		total ExpireResult
	)
	g, ctx := errgroup.WithContext(ctx)
	for range ExpireParallel {
		g.Go(func() error {
			for {
				var expired, queued int
				if err := s.pool.QueryRow(ctx, sqlExpireBatch, pgx.StrictNamedArgs{"batch_size": batchSize, "run_id": runID}).Scan(&expired, &queued); err != nil {
					return fmt.Errorf("expire: batch: %w", err)
				}
				if expired == 0 {
					return nil
				}
				mu.Lock()
				total.Expired += expired
				total.Queued += queued
				total.Batches++
				mu.Unlock()
			}
		})
	}
	err := g.Wait()
	return total, err
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
	if err := s.pool.QueryRow(ctx, sqlExpireCountDue).Scan(&n); err != nil {
		return 0, nil, fmt.Errorf("expire dry run: %w", err)
	}
	rows, err := s.pool.Query(ctx, sqlExpireListDue, pgx.StrictNamedArgs{"limit": limit})
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
