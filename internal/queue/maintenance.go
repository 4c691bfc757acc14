package queue

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// rescuer hands rows whose lease lapsed (their worker died or hung) back to the queue.
// Every replica runs one: the statement takes each lapsed row once (SKIP LOCKED), so
// replicas never rescue a row twice, and a lone survivor rescues everybody's.
type rescuer struct {
	pool  *pgxpool.Pool
	every time.Duration
	clock engineClock
	log   *slog.Logger
}

// rescueBatch is how many rows one rescue statement hands back.
const rescueBatch = 1000

// run rescues now and then every interval until ctx ends; rescued is called after a
// rescue that handed rows back (so the producer claims them at once).
func (r *rescuer) run(ctx context.Context, rescued func()) {
	ticker := time.NewTicker(r.every)
	defer ticker.Stop()
	for {
		if n, err := r.runOnce(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("rescue failed", slog.String("error", err.Error()))
		} else if n > 0 {
			r.log.Warn("rescued rows whose lease lapsed", slog.Int("rows", n))
			rescued()
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// runOnce hands every row whose lease lapsed back to pending, counting the lost attempt,
// in batches. It returns how many rows it rescued.
func (r *rescuer) runOnce(ctx context.Context) (int, error) {
	total := 0
	for {
		var n int
		if err := r.pool.QueryRow(ctx, sqlRescue, pgx.StrictNamedArgs{"now": r.clock.sql(), "limit": rescueBatch}).
			Scan(&n); err != nil {
			return total, fmt.Errorf("rescue lapsed leases: %w", err)
		}
		total += n
		if n < rescueBatch {
			return total, nil
		}
	}
}

// Rescue hands every row whose lease lapsed back to pending, counting the lost attempt.
// It returns how many rows it rescued.
func (q *Queue) Rescue(ctx context.Context) (int, error) { return q.rescuer.runOnce(ctx) }

// pruner deletes finished rows past retention. The sweep job calls it (through Prune) on
// one replica at a time.
type pruner struct {
	pool  *pgxpool.Pool
	clock engineClock
}

// runOnce deletes completed and cancelled rows (and their attempts) that finished before
// cutoff, in batches of batchSize so no statement holds many locks.
func (p *pruner) runOnce(ctx context.Context, cutoff time.Time, batchSize int) (int64, error) {
	var total int64
	for {
		tag, err := p.pool.Exec(ctx, sqlPrune, pgx.StrictNamedArgs{"cutoff": cutoff, "limit": batchSize})
		if err != nil {
			return total, fmt.Errorf("prune queue: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < int64(batchSize) {
			return total, nil
		}
	}
}

// Prune deletes completed and cancelled rows (and their attempts) that finished before
// olderThan ago, in batches of batchSize (default 1000). Failed rows stay until an
// operator acts. It returns how many rows it deleted.
func (q *Queue) Prune(ctx context.Context, olderThan time.Duration, batchSize int) (int64, error) {
	if batchSize <= 0 {
		batchSize = 1000
	}
	return q.pruner.runOnce(ctx, q.clock.time().Add(-olderThan), batchSize)
}
