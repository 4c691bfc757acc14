package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/apperr"
	"tiersync/internal/crm"
	"tiersync/internal/db"
	"tiersync/internal/membership"
)

// Report is GET /api/reconcile/runs/{id}: a reconcile job run, its clients' runs, and a
// page of its differences.
type Report struct {
	ID          int64           `json:"id"`
	Status      string          `json:"status"`
	Trigger     string          `json:"trigger"`
	StartedAt   time.Time       `json:"started_at"`
	FinishedAt  *time.Time      `json:"finished_at"`
	Result      json.RawMessage `json:"result"`
	Error       *string         `json:"error"`
	Clients     []ClientRun     `json:"clients"`
	Differences []Difference    `json:"differences"`
	// NextAfter is the `after` of the next page; null on the last.
	NextAfter *int64 `json:"next_after"`
}

// ClientRun is one client's run as the report shows it.
type ClientRun struct {
	ID          int64            `json:"reconcile_run_id"`
	ClientID    string           `json:"client_id"`
	Client      string           `json:"client"`
	DryRun      bool             `json:"dry_run"`
	Status      string           `json:"status"`
	Pages       int              `json:"pages"`
	Listed      int              `json:"listed"`
	StartedAt   time.Time        `json:"started_at"`
	FinishedAt  *time.Time       `json:"finished_at"`
	Error       *string          `json:"error"`
	Differences map[string]int64 `json:"differences"`
	Repaired    int64            `json:"repaired"`
	// Unrepaired is a dry run's confirmed differences that "repair these" would repair.
	Unrepaired int64 `json:"unrepaired"`
}

// Difference is one difference as the report shows it.
type Difference struct {
	ID            int64      `json:"id"`
	ClientID      string     `json:"client_id"`
	Kind          string     `json:"kind"`
	Repair        string     `json:"repair"`
	Status        string     `json:"status"`
	CustomerID    *string    `json:"customer_id"`
	Email         *string    `json:"email"`
	CRMCustomerID *string    `json:"crm_customer_id"`
	EnrollmentID  *string    `json:"enrollment_id"`
	TierID        *string    `json:"tier_id"`
	Tier          *string    `json:"tier"`
	CRMTierID     *string    `json:"crm_tier_id"`
	CRMTier       *string    `json:"crm_tier"`
	MembershipID  string     `json:"membership_id"`
	Detail        string     `json:"detail"`
	QueueID       *int64     `json:"queue_id"`
	RepairedAt    *time.Time `json:"repaired_at"`
}

// ReportQuery narrows a report's differences.
type ReportQuery struct {
	ClientID string // "" every client
	Kind     string // "" every kind
	After    int64  // the last id of the previous page
	Limit    int    // 1–500 (0: 100)
}

// MaxReportLimit bounds a page of differences.
const MaxReportLimit = 500

// Report reads a reconcile job run's report.
func (r *Reconciler) Report(ctx context.Context, jobRunID int64, q ReportQuery) (Report, error) {
	if err := q.check(); err != nil {
		return Report{}, err
	}
	var rep Report
	err := r.cfg.Pool.QueryRow(ctx, qJobRun, pgx.StrictNamedArgs{"id": jobRunID}).
		Scan(&rep.ID, &rep.Status, &rep.Trigger, &rep.StartedAt, &rep.FinishedAt, &rep.Result, &rep.Error)
	if errors.Is(err, pgx.ErrNoRows) {
		return Report{}, apperr.NotFoundf("reconcile run %d not found", jobRunID)
	}
	if err != nil {
		return Report{}, fmt.Errorf("reconcile report %d: %w", jobRunID, err)
	}
	clientID := optional(q.ClientID)
	rows, err := r.cfg.Pool.Query(ctx, qReportRuns, pgx.StrictNamedArgs{"job_run_id": jobRunID, "client_id": clientID})
	if err != nil {
		return Report{}, fmt.Errorf("reconcile report %d: clients: %w", jobRunID, err)
	}
	rep.Clients, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (ClientRun, error) {
		var c ClientRun
		err := row.Scan(&c.ID, &c.ClientID, &c.Client, &c.DryRun, &c.Status, &c.Pages, &c.Listed, &c.StartedAt, &c.FinishedAt,
			&c.Error, &c.Differences, &c.Repaired, &c.Unrepaired)
		return c, err
	})
	if err != nil {
		return Report{}, fmt.Errorf("reconcile report %d: clients: %w", jobRunID, err)
	}
	limit := q.Limit
	if limit == 0 {
		limit = 100
	}
	rows, err = r.cfg.Pool.Query(ctx, qReportDifferences, pgx.StrictNamedArgs{"job_run_id": jobRunID, "client_id": clientID,
		"kind": optional(q.Kind), "after": q.After, "limit": limit + 1})
	if err != nil {
		return Report{}, fmt.Errorf("reconcile report %d: differences: %w", jobRunID, err)
	}
	rep.Differences, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Difference, error) {
		var d Difference
		err := row.Scan(&d.ID, &d.ClientID, &d.Kind, &d.Repair, &d.Status, &d.CustomerID, &d.Email, &d.CRMCustomerID,
			&d.EnrollmentID, &d.TierID, &d.Tier, &d.CRMTierID, &d.CRMTier, &d.MembershipID, &d.Detail, &d.QueueID, &d.RepairedAt)
		return d, err
	})
	if err != nil {
		return Report{}, fmt.Errorf("reconcile report %d: differences: %w", jobRunID, err)
	}
	if rep.Clients == nil {
		rep.Clients = []ClientRun{}
	}
	if rep.Differences == nil {
		rep.Differences = []Difference{}
	}
	if len(rep.Differences) > limit {
		rep.Differences = rep.Differences[:limit]
		next := rep.Differences[limit-1].ID
		rep.NextAfter = &next
	}
	return rep, nil
}

// ParseReportQuery reads a report's query string (client_id, kind, after, limit) as the
// API and the admin page take it; anything else in it is ignored. A bad value is a 400.
func ParseReportQuery(v url.Values) (ReportQuery, error) {
	q := ReportQuery{ClientID: v.Get("client_id"), Kind: v.Get("kind")}
	if s := v.Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return q, apperr.BadRequestf("after must be a whole number of 0 or more, got %q", crm.CleanText(s, 32))
		}
		q.After = n
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxReportLimit {
			return q, apperr.BadRequestf("limit must be an integer from 1 to %d, got %q", MaxReportLimit, crm.CleanText(s, 32))
		}
		q.Limit = n
	}
	return q, q.check()
}

func (q ReportQuery) check() error {
	if q.ClientID != "" {
		if err := membership.CheckUUID("client_id", q.ClientID); err != nil {
			return err
		}
	}
	if q.Kind != "" {
		ok := false
		for _, k := range Kinds {
			ok = ok || k == q.Kind
		}
		if !ok {
			return apperr.BadRequestf("kind must be one of %v", Kinds)
		}
	}
	if q.After < 0 {
		return apperr.BadRequestf("after must be 0 or more")
	}
	if q.Limit < 0 || q.Limit > MaxReportLimit {
		return apperr.BadRequestf("limit must be between 1 and %d", MaxReportLimit)
	}
	return nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// RepairDryRun repairs what a finished dry run of the client confirmed ("repair these"),
// each repair checked again against our data as it is now (an enrollment that ended
// since is skipped), in one transaction. It returns how many were repaired and skipped.
// The CRM side is not read again: the queued changes read it before they act, as every
// queue row does.
func (r *Reconciler) RepairDryRun(ctx context.Context, jobRunID int64, clientID string) (repaired, skipped int, err error) {
	if err := membership.CheckUUID("client_id", clientID); err != nil {
		return 0, 0, err
	}
	clients, err := r.clients(ctx, clientID)
	if err != nil {
		return 0, 0, err
	}
	ru := &run{jobRunID: jobRunID, client: clients[0]}
	err = db.InTx(ctx, r.cfg.Pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, qDryRunConfirmed, pgx.StrictNamedArgs{"job_run_id": jobRunID, "client_id": clientID})
		if err != nil {
			return fmt.Errorf("confirmed differences: %w", err)
		}
		todo, err := pgx.CollectRows(rows, scanFound)
		if err != nil {
			return fmt.Errorf("confirmed differences: %w", err)
		}
		if len(todo) == 0 {
			return apperr.Conflictf("run %d has no confirmed difference of client %s left to repair (a finished dry run's)", jobRunID, clientID)
		}
		for _, f := range todo {
			status, err := repair(ctx, tx, ru, f)
			if err != nil {
				return err
			}
			if status == StatusRepaired {
				repaired++
			} else {
				skipped++
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return repaired, skipped, nil
}
