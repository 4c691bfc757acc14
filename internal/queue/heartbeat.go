package queue

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// heartbeat renews the leases of every row this process holds, every Lease/3, and stops
// the handlers of rows it no longer holds (their lease lapsed and the rescuer handed them
// on: only the new holder may decide their fate).
type heartbeat struct {
	pool     *pgxpool.Pool
	worker   string
	lease    time.Duration
	clock    engineClock
	log      *slog.Logger
	inflight *inflight
}

// run beats every Lease/3 until ctx ends.
func (h *heartbeat) run(ctx context.Context) {
	ticker := time.NewTicker(h.lease / 3)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if err := h.runOnce(ctx); err != nil && ctx.Err() == nil {
			h.log.Warn("heartbeat failed", slog.String("error", err.Error()))
		}
	}
}

// runOnce renews the leases once.
func (h *heartbeat) runOnce(ctx context.Context) error {
	ids, attempts := h.inflight.snapshot()
	if len(ids) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, h.lease/3)
	defer cancel()
	rows, err := h.pool.Query(ctx, sqlHeartbeat, pgx.StrictNamedArgs{"now": h.clock.sql(),
		"lease_ms": h.lease.Milliseconds(), "worker": h.worker, "ids": ids, "attempts": attempts})
	if err != nil {
		return fmt.Errorf("renew %d lease(s): %w", len(ids), err)
	}
	kept, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("renew %d lease(s): %w", len(ids), err)
	}
	held := make(map[int64]bool, len(kept))
	for _, id := range kept {
		held[id] = true
	}
	for _, id := range h.inflight.lost(ids, attempts, held) {
		h.log.Warn("lease lost: stopping the handler", slog.Int64("id", id))
	}
	return nil
}
