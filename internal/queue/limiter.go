package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/db"
)

// Limiter is the per-key request budget shared by every replica: a token bucket per rate
// key kept in PostgreSQL (crm_rate_buckets), refilled at the bucket's own per-minute rate
// with a burst of one second's worth. A row in the database, rather than a limiter per
// process, is what makes the limit hold however many replicas run: each take is one short
// UPDATE under the bucket's row lock. The CRM client packages take a token before every HTTP
// request (rate limits count requests, not rows); the claim skips keys with an empty or
// paused bucket so workers are not parked on one tenant.
type Limiter struct {
	pool  *pgxpool.Pool
	clock engineClock
	// waited is called each time a Take has to wait (metrics).
	waited func(key string)
}

// NewLimiter makes a limiter on pool. now is the clock (nil: the database's now()); a
// Queue made with Config.Limiter nil makes its own with Config.Now.
func NewLimiter(pool *pgxpool.Pool, now func() time.Time) *Limiter {
	return &Limiter{pool: pool, clock: engineClock{now: now}}
}

// SetRate gives rate key key a budget of perMinute requests a minute, inside the caller's
// transaction: a new bucket starts full, an existing one keeps its tokens and any pause.
// The application calls it when a client's limit is set or changed; rows whose rate key
// has no bucket are not claimed.
func SetRate(ctx context.Context, q db.Querier, key string, perMinute int) error {
	if key == "" || perMinute <= 0 {
		return fmt.Errorf("set rate of %q to %d a minute: want a key and a positive rate", key, perMinute)
	}
	if _, err := q.Exec(ctx, sqlSetRate, pgx.StrictNamedArgs{"rate_key": key, "per_minute": perMinute}); err != nil {
		return fmt.Errorf("set rate of %q: %w", key, err)
	}
	return nil
}

// Resume ends a key's pause and makes its waiting pending rows due now, inside the
// caller's transaction: what held the key back (a CRM connection that could not give a
// token) is fixed. It returns how many rows it made due.
func Resume(ctx context.Context, q db.Querier, key string) (int64, error) {
	tag, err := q.Exec(ctx, sqlResume, pgx.StrictNamedArgs{"now": nil, "rate_key": key})
	if err != nil {
		return 0, fmt.Errorf("resume %q: %w", key, err)
	}
	return tag.RowsAffected(), nil
}

// TryTake takes a token if one is available now. Otherwise it reports how long until
// one is (or until the key's pause ends).
func (l *Limiter) TryTake(ctx context.Context, key string) (granted bool, wait time.Duration, err error) {
	return l.tryTake(ctx, key, false)
}

func (l *Limiter) tryTake(ctx context.Context, key string, low bool) (granted bool, wait time.Duration, err error) {
	var ms int64
	err = l.pool.QueryRow(ctx, sqlTake, pgx.StrictNamedArgs{"now": l.clock.sql(), "rate_key": key, "low": low}).Scan(&granted, &ms)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, 0, fmt.Errorf("rate limit: no bucket for %s (its rate was never set)", key)
	}
	if err != nil {
		return false, 0, fmt.Errorf("rate limit: take for %s: %w", key, err)
	}
	if granted {
		return true, 0, nil
	}
	return false, max(time.Duration(ms)*time.Millisecond, time.Millisecond), nil
}

// Take waits until the key may send one request.
func (l *Limiter) Take(ctx context.Context, key string) error { return l.take(ctx, key, false) }

// Low is the limiter at low priority, for work that may wait (reconciliation's reads): a
// token is granted only while half the bucket's burst stays in it for the queue's rows
// and the requests a caller waits on. It shares the key's bucket, so the CRM's limit
// holds for both together.
func (l *Limiter) Low() LowLimiter { return LowLimiter{l: l} }

// LowLimiter takes tokens at low priority (Limiter.Low).
type LowLimiter struct{ l *Limiter }

// Take waits until the key may send one low-priority request.
func (ll LowLimiter) Take(ctx context.Context, key string) error { return ll.l.take(ctx, key, true) }

func (l *Limiter) take(ctx context.Context, key string, low bool) error {
	for {
		granted, wait, err := l.tryTake(ctx, key, low)
		if err != nil || granted {
			return err
		}
		if l.waited != nil {
			l.waited(key)
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

// Pause stops a key's requests for d: the CRM answered 429 or THROTTLED. Other keys are
// not affected.
func (l *Limiter) Pause(ctx context.Context, key string, d time.Duration) error {
	if _, err := l.pool.Exec(ctx, sqlPause, pgx.StrictNamedArgs{"now": l.clock.sql(), "rate_key": key,
		"pause_ms": d.Milliseconds()}); err != nil {
		return fmt.Errorf("rate limit: pause %s: %w", key, err)
	}
	return nil
}

// engineClock is the engine's injected time: now nil means the database's now() in SQL and
// time.Now in Go.
type engineClock struct{ now func() time.Time }

// sql is the clock for a statement's @now: nil lets the database use its own now().
func (c engineClock) sql() *time.Time {
	if c.now == nil {
		return nil
	}
	t := c.now()
	return &t
}

// time is the clock in Go.
func (c engineClock) time() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}
