package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Limiter is the per-client request budget shared by every replica: a token bucket per
// client kept in PostgreSQL (crm_rate_buckets), refilled at rate_limit_per_minute with a
// burst of one second's worth. A row in the database, rather than a limiter per process,
// is what makes the limit hold however many replicas run: each take is one short UPDATE
// under the bucket's row lock. The CRM clients take a token before every HTTP request
// (rate limits count requests, not rows); the claim skips clients with an empty or paused
// bucket so workers are not parked on one tenant.
type Limiter struct {
	pool *pgxpool.Pool
	now  func() *time.Time
	// waited is called each time a Take has to wait (metrics).
	waited func(clientID string)
}

// NewLimiter returns the limiter over pool's buckets. now is its clock (nil: the
// database's). A process builds one and hands it to the CRM clients and to the engine
// (Config.Limiter), so neither has to wait for the other to exist.
func NewLimiter(pool *pgxpool.Pool, now func() time.Time) *Limiter {
	l := &Limiter{pool: pool, now: func() *time.Time { return nil }}
	if now != nil {
		l.now = func() *time.Time { t := now(); return &t }
	}
	return l
}

// RateLimiter is what the CRM clients need from the limiter.
type RateLimiter interface {
	// Take blocks until the client may send one request, or ctx ends.
	Take(ctx context.Context, clientID string) error
}

// TryTake takes a token if one is available now. Otherwise it reports how long until
// one is (or until the client's pause ends).
func (l *Limiter) TryTake(ctx context.Context, clientID string) (granted bool, wait time.Duration, err error) {
	for try := 0; try < 2; try++ {
		var ms int64
		err = l.pool.QueryRow(ctx, qTake, l.now(), clientID).Scan(&granted, &ms)
		if errors.Is(err, pgx.ErrNoRows) {
			// First request for this client: give it its bucket, then take again.
			if _, err := l.pool.Exec(ctx, qNewBucket, l.now(), clientID); err != nil {
				return false, 0, fmt.Errorf("rate limit: new bucket for %s: %w", clientID, err)
			}
			continue
		}
		if err != nil {
			return false, 0, fmt.Errorf("rate limit: take for %s: %w", clientID, err)
		}
		if granted {
			return true, 0, nil
		}
		return false, max(time.Duration(ms)*time.Millisecond, time.Millisecond), nil
	}
	return false, 0, fmt.Errorf("rate limit: client %s not found", clientID)
}

// Take waits until the client may send one request.
func (l *Limiter) Take(ctx context.Context, clientID string) error {
	for {
		granted, wait, err := l.TryTake(ctx, clientID)
		if err != nil || granted {
			return err
		}
		if l.waited != nil {
			l.waited(clientID)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Pause stops a client's requests for d: the CRM answered 429 or THROTTLED. Other clients
// are not affected.
func (l *Limiter) Pause(ctx context.Context, clientID string, d time.Duration) error {
	if _, err := l.pool.Exec(ctx, qPause, l.now(), clientID, d.Milliseconds()); err != nil {
		return fmt.Errorf("rate limit: pause %s: %w", clientID, err)
	}
	return nil
}
