package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/apperr"
	"tiersync/internal/db"
)

// Item is a queue row as operators see it (API, admin page, CLI).
type Item struct {
	ID            int64      `json:"id"`
	ClientID      string     `json:"client_id"`
	CustomerID    string     `json:"customer_id"`
	EnrollmentID  *string    `json:"enrollment_id"`
	ActionType    string     `json:"action_type"`
	TierID        string     `json:"tier_id"`
	OldTierID     *string    `json:"old_tier_id"`
	CustomerCRMID *string    `json:"customer_crm_id"`
	Status        string     `json:"status"`
	Priority      int        `json:"priority"`
	Attempts      int        `json:"attempts"`
	MaxAttempts   int        `json:"max_attempts"`
	NextRetryAt   time.Time  `json:"next_retry_at"`
	LastAttemptAt *time.Time `json:"last_attempt_at"`
	LockedUntil   *time.Time `json:"locked_until"`
	LockedBy      *string    `json:"locked_by"`
	ErrorMessage  *string    `json:"error_message"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	CompletedAt   *time.Time `json:"completed_at"`
}

// Attempt is one row of a queue row's history.
type Attempt struct {
	ID         int64     `json:"id"`
	Attempt    int       `json:"attempt"`
	Worker     string    `json:"worker"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Outcome    string    `json:"outcome"`
	HTTPStatus *int      `json:"http_status"`
	Error      *string   `json:"error"`
}

// Filter narrows List and RetryFailed to rows whose columns match; empty fields match
// everything. The engine filters on its table's own columns only: a search by something
// else (a customer's email) is resolved by its owner into CustomerIDs first.
type Filter struct {
	Status     string
	ActionType string
	ClientID   string
	// CustomerIDs, when not nil, keeps the rows of these customer ids only: an empty, non-nil
	// list matches nothing (an email search that found no customer). At most
	// MaxFilterCustomerIDs.
	CustomerIDs []string
}

// MaxFilterCustomerIDs caps Filter.CustomerIDs: one statement's array parameter, checked
// against each row of the page scanned.
const MaxFilterCustomerIDs = 1000

// Stats is the queue at a glance; every status and action is present.
type Stats struct {
	ByStatus             map[string]int64 `json:"by_status"`
	ByAction             map[string]int64 `json:"by_action"`
	OldestPendingSeconds int64            `json:"oldest_pending_seconds"`
}

// Statuses and Actions list every value, in display order.
var (
	Statuses = []string{StatusPending, StatusProcessing, StatusCompleted, StatusFailed, StatusCancelled}
	Actions  = []string{ActionAdd, ActionCancel, ActionUpgrade}
)

var uuidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func oneOf(v string, set []string) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}

// args checks the filter and returns its SQL parameters (nil for "any").
func (f Filter) args() (pgx.StrictNamedArgs, error) {
	// Lengths first, so that no message below echoes a huge value; the filters are short
	// enums and UUIDs.
	for _, p := range []struct {
		name, v string
		max     int
	}{{"status", f.Status, 32}, {"action_type", f.ActionType, 32}, {"client_id", f.ClientID, 36}} {
		if len(p.v) > p.max {
			return nil, apperr.BadRequestf("%s is %d bytes long; at most %d", p.name, len(p.v), p.max)
		}
		if !utf8.ValidString(p.v) || strings.ContainsRune(p.v, 0) {
			return nil, apperr.BadRequestf("%s is not valid UTF-8 text", p.name)
		}
	}
	if f.Status != "" && !oneOf(f.Status, Statuses) {
		return nil, apperr.Invalidf("status %q is not one of %v", f.Status, Statuses)
	}
	if f.ActionType != "" && !oneOf(f.ActionType, Actions) {
		return nil, apperr.Invalidf("action_type %q is not one of %v", f.ActionType, Actions)
	}
	if f.ClientID != "" && !uuidRe.MatchString(f.ClientID) {
		return nil, apperr.BadRequestf("client_id %q is not a UUID", f.ClientID)
	}
	if len(f.CustomerIDs) > MaxFilterCustomerIDs {
		return nil, apperr.BadRequestf("%d customer ids; at most %d", len(f.CustomerIDs), MaxFilterCustomerIDs)
	}
	for _, id := range f.CustomerIDs {
		if !uuidRe.MatchString(id) {
			return nil, apperr.BadRequestf("customer id %.40q is not a UUID", id)
		}
	}
	null := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	var customerIDs any // NULL: any customer
	if f.CustomerIDs != nil {
		customerIDs = f.CustomerIDs
	}
	return pgx.StrictNamedArgs{"status": null(f.Status), "action_type": null(f.ActionType),
		"client_id": null(f.ClientID), "customer_ids": customerIDs}, nil
}

func scanItem(row pgx.CollectableRow) (Item, error) {
	var it Item
	err := row.Scan(&it.ID, &it.ClientID, &it.CustomerID, &it.EnrollmentID, &it.ActionType, &it.TierID, &it.OldTierID,
		&it.CustomerCRMID, &it.Status, &it.Priority, &it.Attempts, &it.MaxAttempts, &it.NextRetryAt, &it.LastAttemptAt,
		&it.LockedUntil, &it.LockedBy, &it.ErrorMessage, &it.CreatedAt, &it.UpdatedAt, &it.CompletedAt)
	return it, err
}

// Retry makes a pending or failed row due now (resetAttempts: with all its attempts back).
// Another status is a Conflict.
func (q *Queue) Retry(ctx context.Context, id int64, resetAttempts bool) (Item, error) {
	it, err := q.change(ctx, id, "retry", sqlRetry, pgx.StrictNamedArgs{"reset": resetAttempts})
	if err == nil {
		q.log.Info("operator: retry", slog.Int64("id", id), slog.Bool("reset_attempts", resetAttempts))
	}
	return it, err
}

// Cancel cancels a pending or failed row. Another status is a Conflict.
func (q *Queue) Cancel(ctx context.Context, id int64) (Item, error) {
	it, err := q.change(ctx, id, "cancel", sqlCancel, pgx.StrictNamedArgs{})
	if err == nil {
		q.log.Info("operator: cancel", slog.Int64("id", id))
	}
	return it, err
}

// change runs one operator UPDATE on row id with args (and wakes the workers with it).
func (q *Queue) change(ctx context.Context, id int64, verb, sql string, args pgx.StrictNamedArgs) (Item, error) {
	args["now"], args["id"] = q.clock.sql(), id
	var it Item
	err := db.InTx(ctx, q.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, args)
		if err != nil {
			return err
		}
		if it, err = pgx.CollectExactlyOneRow(rows, scanItem); err != nil {
			return err
		}
		return Notify(ctx, tx)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		status, serr := rowStatus(ctx, q.pool, id)
		if serr != nil {
			return Item{}, serr
		}
		return Item{}, apperr.Conflictf("cannot %s queue row %d: it is %s (only pending or failed rows can be)", verb, id, status).
			With("status", status)
	}
	if err != nil {
		return Item{}, fmt.Errorf("%s queue row %d: %w", verb, id, err)
	}
	return it, nil
}

// RetryFailed makes every failed row matching f due now and returns how many.
func (q *Queue) RetryFailed(ctx context.Context, f Filter, resetAttempts bool) (int64, error) {
	args, err := f.args()
	if err != nil {
		return 0, err
	}
	var n int64
	err = db.InTx(ctx, q.pool, func(tx pgx.Tx) error {
		args["now"], args["reset"] = q.clock.sql(), resetAttempts
		tag, err := tx.Exec(ctx, sqlRetryFailed, args)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		return Notify(ctx, tx)
	})
	if err != nil {
		return 0, fmt.Errorf("retry failed rows: %w", err)
	}
	q.log.Info("operator: retry failed rows", slog.Int64("rows", n), slog.Any("filter", f))
	return n, nil
}

// List returns one page of rows matching f, newest first, and the next page's cursor.
func (q *Queue) List(ctx context.Context, f Filter, limit int, cursor string) ([]Item, string, error) {
	args, err := f.args()
	if err != nil {
		return nil, "", err
	}
	var before *int64
	if cursor != "" {
		id, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || id <= 0 {
			return nil, "", apperr.BadRequestf("cursor %q is not one this API returned", cursor)
		}
		before = &id
	}
	args["before"], args["limit"] = before, limit+1
	rows, err := q.pool.Query(ctx, sqlList, args)
	if err != nil {
		return nil, "", fmt.Errorf("list queue: %w", err)
	}
	items, err := pgx.CollectRows(rows, scanItem)
	if err != nil {
		return nil, "", fmt.Errorf("list queue: %w", err)
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		next = strconv.FormatInt(items[len(items)-1].ID, 10)
	}
	return items, next, nil
}

// ReadItem reads one row: what a handler reads of the row it runs (the engine hands it
// only the engine's fields), without the engine at hand. A missing row is NotFound.
func ReadItem(ctx context.Context, q db.Querier, id int64) (Item, error) {
	rows, err := q.Query(ctx, sqlGet, pgx.StrictNamedArgs{"id": id})
	if err != nil {
		return Item{}, fmt.Errorf("get queue row %d: %w", id, err)
	}
	it, err := pgx.CollectExactlyOneRow(rows, scanItem)
	if errors.Is(err, pgx.ErrNoRows) {
		return Item{}, apperr.NotFoundf("queue row %d not found", id)
	}
	if err != nil {
		return Item{}, fmt.Errorf("get queue row %d: %w", id, err)
	}
	return it, nil
}

// Get returns one row and its attempt history, oldest attempt first.
func (q *Queue) Get(ctx context.Context, id int64) (Item, []Attempt, error) {
	it, err := ReadItem(ctx, q.pool, id)
	if err != nil {
		return Item{}, nil, err
	}
	rows, err := q.pool.Query(ctx, sqlAttempts, pgx.StrictNamedArgs{"id": id})
	if err != nil {
		return Item{}, nil, fmt.Errorf("history of queue row %d: %w", id, err)
	}
	history, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Attempt, error) {
		var a Attempt
		err := row.Scan(&a.ID, &a.Attempt, &a.Worker, &a.StartedAt, &a.FinishedAt, &a.Outcome, &a.HTTPStatus, &a.Error)
		return a, err
	})
	if err != nil {
		return Item{}, nil, fmt.Errorf("history of queue row %d: %w", id, err)
	}
	if history == nil {
		history = []Attempt{}
	}
	return it, history, nil
}

// countKey is one (status, action_type) pair of the queue's row counts.
type countKey struct{ status, action string }

// counts is the queue's row counts and the age of its oldest pending row.
type counts struct {
	rows          map[countKey]int64
	oldestPending int64
}

// counts reads the row counts and the oldest pending age in one statement. It scans the
// table: callers are the authenticated stats endpoint and the metrics refresher (once per
// interval), never an unauthenticated request.
func (q *Queue) counts(ctx context.Context) (counts, error) {
	rows, err := q.pool.Query(ctx, sqlCounts, pgx.StrictNamedArgs{"now": q.clock.sql()})
	if err != nil {
		return counts{}, fmt.Errorf("count queue rows: %w", err)
	}
	c := counts{rows: map[countKey]int64{}}
	for rows.Next() {
		var k countKey
		var n, oldest int64
		if err := rows.Scan(&k.status, &k.action, &n, &oldest); err != nil {
			rows.Close()
			return counts{}, fmt.Errorf("count queue rows: %w", err)
		}
		c.rows[k] = n
		c.oldestPending = max(c.oldestPending, oldest)
	}
	if err := rows.Err(); err != nil {
		return counts{}, fmt.Errorf("count queue rows: %w", err)
	}
	return c, nil
}

// Stats counts rows by status and by action (every key present) and the age of the
// oldest pending row.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	st := Stats{ByStatus: map[string]int64{}, ByAction: map[string]int64{}}
	for _, s := range Statuses {
		st.ByStatus[s] = 0
	}
	for _, a := range Actions {
		st.ByAction[a] = 0
	}
	c, err := q.counts(ctx)
	if err != nil {
		return Stats{}, err
	}
	for k, n := range c.rows {
		st.ByStatus[k.status] += n
		st.ByAction[k.action] += n
	}
	st.OldestPendingSeconds = c.oldestPending
	return st, nil
}
