package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/db"
)

// The reports below are what the alerts and the admin dashboard read of the queue, so that
// no other package reads crm_sync_queue itself.

// FailedSummary counts failed rows.
type FailedSummary struct {
	// Since is how many failed rows were updated after the mark; Total all failed rows.
	Since, Total int64
	// Newest is the newest failed row's update time (nil: none).
	Newest *time.Time
}

// FailedSince counts failed rows, and those updated after since (all when nil).
func FailedSince(ctx context.Context, q db.Querier, since *time.Time) (FailedSummary, error) {
	var s FailedSummary
	if err := q.QueryRow(ctx, sqlReportFailedSince, pgx.StrictNamedArgs{"since": since}).Scan(&s.Since, &s.Total, &s.Newest); err != nil {
		return FailedSummary{}, fmt.Errorf("count failed rows: %w", err)
	}
	return s, nil
}

// FailedRow is a failed row as a report shows it.
type FailedRow struct {
	ID         int64
	ActionType string
	ClientID   string
	Error      string
	UpdatedAt  time.Time
}

// NewestFailed returns at most limit failed rows updated after since (all when nil),
// newest first.
func NewestFailed(ctx context.Context, q db.Querier, since *time.Time, limit int) ([]FailedRow, error) {
	rows, err := q.Query(ctx, sqlReportNewestFailed, pgx.StrictNamedArgs{"since": since, "limit": limit})
	if err != nil {
		return nil, fmt.Errorf("newest failed rows: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (FailedRow, error) {
		var f FailedRow
		err := row.Scan(&f.ID, &f.ActionType, &f.ClientID, &f.Error, &f.UpdatedAt)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("newest failed rows: %w", err)
	}
	return out, nil
}

// OldestPending returns when the oldest pending row was made (nil: none) and how many
// rows are pending.
func OldestPending(ctx context.Context, q db.Querier) (oldest *time.Time, pending int64, err error) {
	if err := q.QueryRow(ctx, sqlReportOldestPending).Scan(&oldest, &pending); err != nil {
		return nil, 0, fmt.Errorf("oldest pending row: %w", err)
	}
	return oldest, pending, nil
}

// Backlog is one client's open rows.
type Backlog struct {
	Pending, Due, Processing, Failed int64
}

// BacklogByClient returns the open rows of each client that has any.
func BacklogByClient(ctx context.Context, q db.Querier) (map[string]Backlog, error) {
	rows, err := q.Query(ctx, sqlReportBacklog)
	if err != nil {
		return nil, fmt.Errorf("queue backlog: %w", err)
	}
	out := map[string]Backlog{}
	var id string
	var b Backlog
	if _, err := pgx.ForEachRow(rows, []any{&id, &b.Pending, &b.Due, &b.Processing, &b.Failed}, func() error {
		out[id] = b
		return nil
	}); err != nil {
		return nil, fmt.Errorf("queue backlog: %w", err)
	}
	return out, nil
}

// LatestForEnrollment returns the id and status of an enrollment's newest row; found is
// false when it has none.
func LatestForEnrollment(ctx context.Context, q db.Querier, enrollmentID string) (id int64, status string, found bool, err error) {
	err = q.QueryRow(ctx, sqlReportLatestForEnrollment, pgx.StrictNamedArgs{"enrollment_id": enrollmentID}).Scan(&id, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", false, nil
	}
	if err != nil {
		return 0, "", false, fmt.Errorf("latest row of enrollment %s: %w", enrollmentID, err)
	}
	return id, status, true, nil
}
