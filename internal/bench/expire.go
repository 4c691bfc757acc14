package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/membership"
)

// ExpireResult is the JSON line of `tiersync-dev bench expire`.
type ExpireResult struct {
	Bench       string  `json:"bench"`
	Enrollments int     `json:"enrollments"`
	BatchSize   int     `json:"batch_size"`
	Seconds     float64 `json:"seconds"`
	PerSec      float64 `json:"per_sec"`
	// While the expiration ran, new enrollments kept going through the API's code path:
	// how many committed, and the slowest one (no lock is held longer than one batch).
	ConcurrentEnrollments int     `json:"concurrent_enrollments"`
	MaxEnrollMS           float64 `json:"max_enroll_ms"`
}

// Expire seeds n active enrollments already past their end (with customers linked to a
// CRM) and times the expiration of all of them with their cancel rows, while a goroutine
// keeps enrolling new customers.
func Expire(ctx context.Context, pool *pgxpool.Pool, n, batchSize int) (ExpireResult, error) {
	if batchSize <= 0 {
		batchSize = membership.DefaultExpireBatch
	}
	client, tier, err := seedExpired(ctx, pool, n)
	if err != nil {
		return ExpireResult{}, err
	}
	store := membership.NewStore(pool, nil)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var enrolled int
	var slowest time.Duration
	var enrollErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		// A steady 50 enrollments a second, a busy day's signup rate many times over; a
		// flat-out loop would measure the two cores' contention, not the locks.
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			t0 := time.Now()
			_, err := store.Enroll(ctx, membership.NewEnrollment{ClientID: client, TierID: tier,
				Customer: &membership.NewCustomer{Email: fmt.Sprintf("new%d@example.com", i), FirstName: "New", LastName: "Member"}})
			if err != nil {
				enrollErr = err
				return
			}
			enrolled++
			slowest = max(slowest, time.Since(t0))
		}
	}()

	start := time.Now()
	res, err := store.Expire(ctx, batchSize, nil)
	elapsed := time.Since(start).Seconds()
	close(stop)
	wg.Wait()
	if err != nil {
		return ExpireResult{}, err
	}
	if enrollErr != nil {
		return ExpireResult{}, fmt.Errorf("bench expire: a concurrent enrollment failed: %w", enrollErr)
	}
	if res.Expired != n || res.Queued != n {
		return ExpireResult{}, fmt.Errorf("bench expire: expired %d, queued %d, want %d each", res.Expired, res.Queued, n)
	}
	var rows int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM crm_sync_queue WHERE action_type = 'cancel_membership'`).Scan(&rows); err != nil {
		return ExpireResult{}, fmt.Errorf("bench expire: count: %w", err)
	}
	if rows != n {
		return ExpireResult{}, errors.New("bench expire: cancel rows missing")
	}
	return ExpireResult{Bench: "expire", Enrollments: n, BatchSize: batchSize, Seconds: round(elapsed),
		PerSec: round(float64(n) / elapsed), ConcurrentEnrollments: enrolled,
		MaxEnrollMS: round(float64(slowest.Microseconds()) / 1000)}, nil
}

// seedExpired makes one client and tier, n customers and n enrollments that ended
// yesterday, 100 000 per statement.
func seedExpired(ctx context.Context, pool *pgxpool.Pool, n int) (client, tier string, err error) {
	err = pool.QueryRow(ctx, `
		WITH c AS (INSERT INTO clients (name, crm_type, tenant, rate_limit_per_minute)
		           VALUES ('Bench Winery', 'commerce7', 'bench-expire', 100000) RETURNING id),
		     t AS (INSERT INTO tiers (client_id, crm_type, name, rank, duration_months, c7_club_id, c7_delivery_method, c7_pickup_location_id)
		           SELECT id, 'commerce7', 'Gold', 1, 12, 'c1ab0000-0000-4000-8000-000000000001', 'Pickup', 'loc-1' FROM c RETURNING id)
		SELECT c.id, t.id FROM c, t`).Scan(&client, &tier)
	if err != nil {
		return "", "", fmt.Errorf("bench: seed client: %w", err)
	}
	const perStatement = 100_000
	for from := 1; from <= n; from += perStatement {
		to := min(from+perStatement-1, n)
		_, err := pool.Exec(ctx, `
			WITH cu AS (
				INSERT INTO customers (client_id, email, first_name, last_name, crm_id, is_club_member, current_tier_id)
				SELECT $1, 'member' || g || '@example.com', 'Member', g::text, 'c7-' || g, true, $2
				FROM generate_series($3::int, $4::int) g
				RETURNING id)
			INSERT INTO enrollments (client_id, customer_id, tier_id, enrolled_at, expires_at, source)
			SELECT $1, id, $2, now() - interval '1 year 1 day', now() - interval '1 day', 'api' FROM cu`,
			client, tier, from, to)
		if err != nil {
			return "", "", fmt.Errorf("bench: seed enrollments: %w", err)
		}
	}
	if _, err := pool.Exec(ctx, `ANALYZE customers; ANALYZE enrollments`); err != nil {
		return "", "", fmt.Errorf("bench: analyze: %w", err)
	}
	return client, tier, nil
}
