// Package reconcile finds and repairs the differences between our active enrollments and
// each client's memberships at its CRM (issue 22): the job reconcile-memberships.
//
// A client's run has three steps, each resumable, because a big client's listing takes
// an hour at the CRM's rate limit and a replica may die in the middle:
//
//  1. listing: the CRM's live memberships in the tiers we map, a page at a time, through
//     the client's rate limit at low priority (crm.Lister, queue.Limiter.Low). Each page
//     is stored with the cursor of the next in one transaction (reconcile_crm_members,
//     reconcile_runs.cursor); the last page's transaction also compares the whole
//     listing with our enrollments (sql/compare.sql) and records the differences.
//  2. checking: each difference is confirmed by a read of that customer alone (a listing
//     read page by page while the CRM changes can miss a membership), compared again, and
//     then repaired in the same transaction as its record — through the queue when the
//     CRM must change (idempotent, like every CRM change), or here when the client's
//     drift_policy lets the CRM win. A dry run confirms and records, and repairs nothing.
//  3. done: the counts by kind go to the job run's result; too many raise an alert.
//
// A run whose process died is adopted by the next job run, at its cursor or its next
// unconfirmed difference.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"tiersync/internal/apperr"
	"tiersync/internal/crm"
	"tiersync/internal/db"
	"tiersync/internal/membership"
)

// Kinds of difference.
const (
	KindMissing        = "missing_at_crm"    // we have an active enrollment; the CRM has no live membership
	KindExtra          = "extra_at_crm"      // the CRM holds a tier we have no active enrollment for
	KindWrongTier      = "wrong_tier"        // the CRM holds another tier than ours
	KindAfterExpiry    = "live_after_expiry" // the CRM holds a tier whose enrollment expired here
	KindDifferentCRMID = "different_crm_id"  // the CRM's membership is under another customer id than ours
)

// Kinds are every kind, in report order.
var Kinds = []string{KindMissing, KindExtra, KindWrongTier, KindAfterExpiry, KindDifferentCRMID}

// Drift policies (clients.drift_policy).
const (
	PolicyTiersyncWins = "tiersync_wins"
	PolicyCRMWins      = "crm_wins"
)

// Client is a client to reconcile, with the tiers it maps to its CRM.
type Client struct {
	ID, Name, CRMType, Tenant, Policy string
	Tiers                             []crm.Tier
}

// ListerFunc gives the CRM reader of a client; its requests must take the client's
// tokens at low priority. An error says why the client cannot be read (no credentials,
// no Shopify connection): the client's run fails with it, the others go on.
type ListerFunc func(ctx context.Context, c Client) (crm.Lister, error)

// Config configures the reconciler.
type Config struct {
	Pool    *pgxpool.Pool
	Listers ListerFunc
	// Concurrency is how many clients are reconciled at once (0: 8). Each mostly waits on
	// its own CRM's rate limit, so this bounds database connections, not CPU.
	Concurrency int
	// AlertThreshold is the number of differences in one client's run that raises an
	// alert (0: 25; negative: never).
	AlertThreshold int
	// Alert delivers an alert's text (nil: none).
	Alert  func(ctx context.Context, text string) error
	Logger *slog.Logger
	// Retries is how many times a CRM read that failed for a passing reason (a timeout,
	// a 5xx) is tried again within the run before the run stops, resumable (0: 5).
	Retries int
	// Backoff is the first wait between those tries, doubling (0: 1 s).
	Backoff time.Duration
	// ResumeWait is how long a client's run stopped by a CRM that kept failing waits
	// before the sweep resumes it (0: an hour).
	ResumeWait time.Duration
}

// Reconciler runs reconciliations.
type Reconciler struct {
	cfg Config
}

// New makes a reconciler.
func New(cfg Config) *Reconciler {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.AlertThreshold == 0 {
		cfg.AlertThreshold = 25
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Retries <= 0 {
		cfg.Retries = 5
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	if cfg.ResumeWait <= 0 {
		cfg.ResumeWait = time.Hour
	}
	return &Reconciler{cfg: cfg}
}

// Options narrow a run.
type Options struct {
	ClientID string // "" every client
	DryRun   bool   // find and confirm, repair nothing
	// Resume runs only the client runs left unfinished by a run that is over, each as
	// the dry run or not it was.
	Resume bool
}

// Result is a job run's result (job_runs.result).
type Result struct {
	DryRun      bool           `json:"dry_run"`
	Clients     int            `json:"clients"`
	Differences map[string]int `json:"differences"` // by kind, every client
	Repaired    int            `json:"repaired"`
	Failed      int            `json:"failed_clients"`
	// Runs are the clients' runs that found a difference or did not finish (at most
	// maxListed; GET /api/reconcile/runs/{id} has them all).
	Runs []ClientResult `json:"runs"`
}

// maxListed bounds Result.Runs: the result is one JSON value, and there are thousands of
// clients.
const maxListed = 100

// ClientResult is one client's part of a run.
type ClientResult struct {
	ReconcileRunID int64          `json:"reconcile_run_id,omitempty"`
	ClientID       string         `json:"client_id"`
	Client         string         `json:"client"`
	Status         string         `json:"status"` // done, failed, interrupted, busy
	Listed         int            `json:"listed"`
	Differences    map[string]int `json:"differences"`
	Repaired       int            `json:"repaired"`
	Error          string         `json:"error,omitempty"`
}

// Client run outcomes beyond the table's statuses.
const (
	// interrupted: the run stopped (shutdown, a CRM that kept failing) and resumes at the
	// next reconcile job run.
	statusInterrupted = "interrupted"
	// busy: another live job run is reconciling the client.
	statusBusy = "busy"
)

// Run reconciles the clients (one with opts.ClientID) as job run jobRunID. A client that
// fails does not stop the others; the run's error says how many failed.
func (r *Reconciler) Run(ctx context.Context, jobRunID int64, opts Options) (Result, error) {
	clients, err := r.clients(ctx, opts.ClientID)
	if err != nil {
		return Result{}, err
	}
	dry := map[string]bool{}
	if opts.Resume {
		orphans, err := r.orphans(ctx)
		if err != nil {
			return Result{}, err
		}
		kept := clients[:0]
		for _, c := range clients {
			if d, ok := orphans[c.ID]; ok {
				kept, dry[c.ID] = append(kept, c), d
			}
		}
		clients = kept
	}
	res := Result{DryRun: opts.DryRun, Clients: len(clients), Differences: map[string]int{}, Runs: []ClientResult{}}
	for _, k := range Kinds {
		res.Differences[k] = 0
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.cfg.Concurrency)
	for _, c := range clients {
		g.Go(func() error {
			dryRun := opts.DryRun
			if opts.Resume {
				dryRun = dry[c.ID]
			}
			cr := r.client(gctx, jobRunID, c, dryRun)
			mu.Lock()
			defer mu.Unlock()
			for k, n := range cr.Differences {
				res.Differences[k] += n
			}
			res.Repaired += cr.Repaired
			// A client another live run has is not a failure of this one: it is being
			// reconciled.
			if cr.Status != "done" && cr.Status != statusBusy {
				res.Failed++
			}
			if (cr.Status != "done" || total(cr.Differences) > 0) && len(res.Runs) < maxListed {
				res.Runs = append(res.Runs, cr)
			}
			return nil
		})
	}
	_ = g.Wait()
	sort.Slice(res.Runs, func(a, b int) bool { return res.Runs[a].Client < res.Runs[b].Client })
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("reconcile: stopped, resumable: %w", err)
	}
	if res.Failed > 0 {
		return res, fmt.Errorf("reconcile: %d of %d client(s) did not finish (see the result's runs)", res.Failed, len(clients))
	}
	return res, nil
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// Orphans counts the client runs a Resume run would take up.
func (r *Reconciler) Orphans(ctx context.Context) (int, error) {
	o, err := r.orphans(ctx)
	return len(o), err
}

func (r *Reconciler) orphans(ctx context.Context) (map[string]bool, error) {
	rows, err := r.cfg.Pool.Query(ctx, qOrphans)
	if err != nil {
		return nil, fmt.Errorf("reconcile: unfinished runs: %w", err)
	}
	out := map[string]bool{}
	var id string
	var dry bool
	if _, err := pgx.ForEachRow(rows, []any{&id, &dry}, func() error {
		out[id] = dry
		return nil
	}); err != nil {
		return nil, fmt.Errorf("reconcile: unfinished runs: %w", err)
	}
	return out, nil
}

// clients reads the clients to reconcile.
func (r *Reconciler) clients(ctx context.Context, clientID string) ([]Client, error) {
	var id *string
	if clientID != "" {
		if err := membership.CheckUUID("client id", clientID); err != nil {
			return nil, err
		}
		id = &clientID
	}
	rows, err := r.cfg.Pool.Query(ctx, qClients, pgx.StrictNamedArgs{"client_id": id})
	if err != nil {
		return nil, fmt.Errorf("reconcile: clients: %w", err)
	}
	clients, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Client, error) {
		var c Client
		var ids, names, clubs, tags []string
		if err := row.Scan(&c.ID, &c.Name, &c.CRMType, &c.Tenant, &c.Policy, &ids, &names, &clubs, &tags); err != nil {
			return c, err
		}
		for i := range ids {
			c.Tiers = append(c.Tiers, crm.Tier{ID: ids[i], Name: names[i], C7ClubID: clubs[i], ShopifyTag: tags[i]})
		}
		return c, nil
	})
	if err != nil {
		return nil, fmt.Errorf("reconcile: clients: %w", err)
	}
	if clientID != "" && len(clients) == 0 {
		return nil, apperr.NotFoundf("client %s not found", clientID)
	}
	return clients, nil
}

// run is a client's reconcile_runs row as the steps use it.
type run struct {
	id        int64
	jobRunID  int64
	client    Client
	dryRun    bool
	status    string
	cursor    string
	startedAt time.Time
	lister    crm.Lister
}

// client reconciles one client and says how it went; errors end up in the result.
func (r *Reconciler) client(ctx context.Context, jobRunID int64, c Client, dryRun bool) ClientResult {
	cr := ClientResult{ClientID: c.ID, Client: c.Name, Differences: map[string]int{}}
	ru, ok, err := r.open(ctx, jobRunID, c, dryRun)
	if err != nil {
		cr.Status, cr.Error = statusInterrupted, err.Error()
		return cr
	}
	if !ok {
		cr.Status, cr.Error = statusBusy, "another job run is reconciling this client"
		return cr
	}
	cr.ReconcileRunID = ru.id
	log := r.cfg.Logger.With(slog.String("client_id", c.ID), slog.Int64("reconcile_run_id", ru.id))
	err = r.steps(ctx, ru)
	switch {
	case err == nil:
		cr.Status = "done"
	case ctx.Err() != nil:
		// Left unfinished (a shutdown): the next sweep resumes it where it stopped.
		cr.Status, cr.Error = statusInterrupted, err.Error()
		return cr
	case crm.ClassOf(err) != crm.Permanent && !isFinal(err):
		// Left unfinished, the CRM kept failing: resumed where it stopped, by a sweep after
		// ResumeWait or by the next run asked for.
		cr.Status, cr.Error = statusInterrupted, err.Error()
		if _, perr := r.cfg.Pool.Exec(ctx, qPostponeRun, pgx.StrictNamedArgs{"run_id": ru.id, "error": crm.CleanText(err.Error(), 2000),
			"wait_seconds": r.cfg.ResumeWait.Seconds()}); perr != nil {
			log.Warn("reconcile: record the interruption", slog.String("error", perr.Error()))
		}
		log.Warn("reconcile interrupted; resumed later", slog.String("error", err.Error()), slog.Duration("after", r.cfg.ResumeWait))
		return cr
	default:
		cr.Status, cr.Error = "failed", err.Error()
		log.Error("reconcile failed", slog.String("error", err.Error()))
	}
	cr.Differences, cr.Repaired, err = r.finish(context.WithoutCancel(ctx), ru.id, cr.Status, cr.Error)
	if err != nil {
		cr.Status, cr.Error = statusInterrupted, err.Error()
		return cr
	}
	if n := total(cr.Differences); cr.Status == "done" && r.cfg.AlertThreshold > 0 && n >= r.cfg.AlertThreshold && r.cfg.Alert != nil {
		if err := r.cfg.Alert(ctx, driftText(c, ru, cr)); err != nil {
			log.Warn("drift alert not delivered", slog.String("error", err.Error()))
		}
	}
	return cr
}

// finalError is a failure no later run can get past by resuming (no credentials, a
// tier mapping the CRM refuses): the run ends failed, and the next one starts afresh.
type finalError struct{ err error }

func (e finalError) Error() string { return e.err.Error() }
func (e finalError) Unwrap() error { return e.err }

func isFinal(err error) bool {
	var f finalError
	return errors.As(err, &f)
}

func driftText(c Client, ru *run, cr ClientResult) string {
	var parts []string
	for _, k := range Kinds {
		if n := cr.Differences[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
	}
	what := "repaired"
	if ru.dryRun {
		what = "not repaired (dry run)"
	}
	return fmt.Sprintf("tiersync: reconciling %s (%s) found %d difference(s) with its CRM: %s; %s. Details: GET /api/reconcile/runs/%d",
		c.Name, c.ID, total(cr.Differences), strings.Join(parts, ", "), what, ru.jobRunID)
}

// open adopts the client's run left unfinished by a dead job run, or starts one; ok is
// false when another live job run has it.
func (r *Reconciler) open(ctx context.Context, jobRunID int64, c Client, dryRun bool) (*run, bool, error) {
	ru := &run{jobRunID: jobRunID, client: c, dryRun: dryRun}
	found := false
	err := db.InTx(ctx, r.cfg.Pool, func(tx pgx.Tx) error {
		args := pgx.StrictNamedArgs{"client_id": c.ID, "dry_run": dryRun}
		if _, err := tx.Exec(ctx, qAbandonRuns, args); err != nil {
			return fmt.Errorf("abandon runs: %w", err)
		}
		args = pgx.StrictNamedArgs{"client_id": c.ID, "dry_run": dryRun, "job_run_id": jobRunID}
		err := tx.QueryRow(ctx, qAdoptRun, args).Scan(&ru.id, &ru.status, &ru.cursor, &ru.startedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			err = tx.QueryRow(ctx, qInsertRun, args).Scan(&ru.id, &ru.status, &ru.cursor, &ru.startedAt)
		}
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("open run: %w", err)
		}
		found = true
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("reconcile %s: %w", c.ID, err)
	}
	return ru, found, nil
}

// steps runs the client's run from where it stands.
func (r *Reconciler) steps(ctx context.Context, ru *run) error {
	lister, err := r.cfg.Listers(ctx, ru.client)
	if err != nil {
		return finalError{fmt.Errorf("the CRM cannot be read: %w", err)}
	}
	ru.lister = lister
	for ru.status == "listing" {
		if err := r.page(ctx, ru); err != nil {
			return err
		}
	}
	for {
		more, err := r.check(ctx, ru)
		if err != nil || !more {
			return err
		}
	}
}

// page reads and stores the next page of the listing.
func (r *Reconciler) page(ctx context.Context, ru *run) error {
	var members []crm.Member
	var next string
	err := r.retry(ctx, func() error {
		var err error
		members, next, err = ru.lister.ListMembers(ctx, ru.client.Tiers, ru.cursor)
		return err
	})
	if err != nil {
		return fmt.Errorf("list memberships (page after %q): %w", ru.cursor, err)
	}
	return db.InTx(ctx, r.cfg.Pool, func(tx pgx.Tx) error {
		if err := insertMembers(ctx, tx, ru.id, members); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, qSavePage, pgx.StrictNamedArgs{"run_id": ru.id, "cursor": ru.cursor, "next": next, "listed": len(members)})
		if err != nil {
			return fmt.Errorf("save page: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return finalError{fmt.Errorf("run %d moved on in another process", ru.id)}
		}
		if next == "" {
			if err := customPlans(ctx, tx); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, qCompare, pgx.StrictNamedArgs{"run_id": ru.id, "customer_ids": nil, "crm_ids": nil}); err != nil {
				return fmt.Errorf("compare: %w", err)
			}
			ru.status = "checking"
		}
		ru.cursor = next
		return nil
	})
}

// customPlans plans the transaction's statements for their arguments, without JIT:
// compare.sql runs over a whole listing or over one customer, and a generic plan would
// keep its NULL tests, reading the whole listing for one customer; JIT compiled the
// statement in 2 s, for an execution of 0.06 s (one customer) or 1.3 s (100 000).
func customPlans(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SELECT set_config('plan_cache_mode', 'force_custom_plan', true), set_config('jit', 'off', true)`); err != nil {
		return fmt.Errorf("plan mode: %w", err)
	}
	return nil
}

func insertMembers(ctx context.Context, tx pgx.Tx, runID int64, members []crm.Member) error {
	if len(members) == 0 {
		return nil
	}
	n := len(members)
	ids, tiers, mids, emails, notes := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, m := range members {
		ids[i], tiers[i], mids[i], emails[i], notes[i] = m.CustomerID, m.TierID, m.MembershipID, m.Email, m.TierNote
	}
	if _, err := tx.Exec(ctx, qInsertMembers, pgx.StrictNamedArgs{"run_id": runID, "customer_ids": ids, "tier_ids": tiers,
		"membership_ids": mids, "emails": emails, "notes": notes}); err != nil {
		return fmt.Errorf("store %d listed member(s): %w", n, err)
	}
	return nil
}

// retry runs a CRM read, again after a passing failure (with backoff, at most cfg.Retries
// more times) or a throttle (after the CRM's wait; not counted: a throttle is the CRM
// pacing us, not failing, and the context bounds it).
func (r *Reconciler) retry(ctx context.Context, read func() error) error {
	backoff := r.cfg.Backoff
	for failures := 0; ; {
		err := read()
		if err == nil {
			return nil
		}
		wait := backoff
		var ce *crm.Error
		switch crm.ClassOf(err) {
		case crm.Permanent:
			return err
		case crm.Throttled:
			if errors.As(err, &ce) && ce.RetryAfter > 0 {
				wait = ce.RetryAfter
			}
		default:
			if failures == r.cfg.Retries {
				return err
			}
			failures++
			backoff *= 2
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

// difference is a difference being confirmed.
type difference struct {
	id                      int64
	kind                    string
	customerID              *string
	crmCustomerID, ourCRMID string
}

// check confirms and repairs the run's next unconfirmed difference; more is false when
// none is left.
func (r *Reconciler) check(ctx context.Context, ru *run) (more bool, err error) {
	var d difference
	err = r.cfg.Pool.QueryRow(ctx, qNextFound, pgx.StrictNamedArgs{"run_id": ru.id}).
		Scan(&d.id, &d.kind, &d.customerID, &d.crmCustomerID, &d.ourCRMID)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("next difference: %w", err)
	}
	// The customer's own read: every CRM id involved, ours and the listing's.
	crmIDs := []string{}
	for _, id := range []string{d.crmCustomerID, d.ourCRMID} {
		if id != "" && (len(crmIDs) == 0 || crmIDs[0] != id) {
			crmIDs = append(crmIDs, id)
		}
	}
	known, err := r.knownEmails(ctx, ru.id, crmIDs)
	if err != nil {
		return false, err
	}
	var fresh []crm.Member
	for _, id := range crmIDs {
		var ms []crm.Member
		if err := r.retry(ctx, func() error {
			var err error
			ms, err = ru.lister.CustomerMembers(ctx, id, ru.client.Tiers)
			return err
		}); err != nil {
			return false, fmt.Errorf("confirm difference %d: read customer %s: %w", d.id, id, err)
		}
		email := known[id]
		// A CRM customer we do not know needs its email: it may be one of ours under
		// another id, and any repair needs a row of ours for it.
		if email == "" && d.customerID == nil && id == d.crmCustomerID && len(ms) > 0 && ms[0].Email == "" {
			if err := r.retry(ctx, func() error {
				var err error
				email, err = ru.lister.CustomerEmail(ctx, id)
				return err
			}); err != nil {
				return false, fmt.Errorf("confirm difference %d: read customer %s: %w", d.id, id, err)
			}
		}
		for i := range ms {
			if ms[i].Email == "" {
				ms[i].Email = email
			}
		}
		fresh = append(fresh, ms...)
	}
	customerIDs := []string{}
	if d.customerID != nil {
		customerIDs = append(customerIDs, *d.customerID)
	}
	err = db.InTx(ctx, r.cfg.Pool, func(tx pgx.Tx) error {
		scope := pgx.StrictNamedArgs{"run_id": ru.id, "customer_ids": customerIDs, "crm_ids": crmIDs}
		if err := customPlans(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, qForgetMembers, scope); err != nil {
			return fmt.Errorf("forget members: %w", err)
		}
		if err := insertMembers(ctx, tx, ru.id, fresh); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, qCompare, scope); err != nil {
			return fmt.Errorf("compare customer: %w", err)
		}
		rows, err := tx.Query(ctx, qScopedFound, scope)
		if err != nil {
			return fmt.Errorf("confirmed differences: %w", err)
		}
		found, err := pgx.CollectRows(rows, scanFound)
		if err != nil {
			return fmt.Errorf("confirmed differences: %w", err)
		}
		for _, f := range found {
			if _, err := repair(ctx, tx, ru, f); err != nil {
				return err
			}
		}
		// Whatever the read left unexplained is gone: never read it again.
		_, err = tx.Exec(ctx, qMark, pgx.StrictNamedArgs{"id": d.id, "status": "gone", "detail": "", "queue_id": nil, "only_found": true})
		return err
	})
	if err != nil {
		return false, err
	}
	return true, nil
}

// knownEmails are the emails the run's listing gave for crmIDs.
func (r *Reconciler) knownEmails(ctx context.Context, runID int64, crmIDs []string) (map[string]string, error) {
	rows, err := r.cfg.Pool.Query(ctx, qKnownEmails, pgx.StrictNamedArgs{"run_id": runID, "crm_ids": crmIDs})
	if err != nil {
		return nil, fmt.Errorf("listed emails: %w", err)
	}
	out := map[string]string{}
	var id, email string
	if _, err := pgx.ForEachRow(rows, []any{&id, &email}, func() error {
		out[id] = email
		return nil
	}); err != nil {
		return nil, fmt.Errorf("listed emails: %w", err)
	}
	return out, nil
}

// finish ends the client's run with status (done or failed) and returns its differences
// by kind and how many were repaired.
func (r *Reconciler) finish(ctx context.Context, runID int64, status, errText string) (map[string]int, int, error) {
	var errArg *string
	if errText != "" {
		errArg = &errText
	}
	rows, err := r.cfg.Pool.Query(ctx, qFinishRun, pgx.StrictNamedArgs{"run_id": runID, "status": status, "error": errArg})
	if err != nil {
		return nil, 0, fmt.Errorf("finish run %d: %w", runID, err)
	}
	counts, repaired := map[string]int{}, 0
	var kind string
	var n, rep int
	_, err = pgx.ForEachRow(rows, []any{&kind, &n, &rep}, func() error {
		counts[kind], repaired = n, repaired+rep
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("finish run %d: %w", runID, err)
	}
	return counts, repaired, nil
}

// Latest is a client's newest reconcile run (the admin page).
type Latest struct {
	ClientID    string     `json:"client_id"`
	JobRunID    int64      `json:"job_run_id"`
	RunID       int64      `json:"reconcile_run_id"`
	DryRun      bool       `json:"dry_run"`
	Status      string     `json:"status"`
	FinishedAt  *time.Time `json:"finished_at"`
	Differences int64      `json:"differences"`
	Unrepaired  int64      `json:"unrepaired"`
}

// LatestRuns is each client's newest run (one client's with clientID).
func (r *Reconciler) LatestRuns(ctx context.Context, clientID string) (map[string]Latest, error) {
	rows, err := r.cfg.Pool.Query(ctx, qLatestRuns, pgx.StrictNamedArgs{"client_id": optional(clientID)})
	if err != nil {
		return nil, fmt.Errorf("latest reconcile runs: %w", err)
	}
	out := map[string]Latest{}
	var l Latest
	_, err = pgx.ForEachRow(rows, []any{&l.ClientID, &l.JobRunID, &l.RunID, &l.DryRun, &l.Status, &l.FinishedAt, &l.Differences, &l.Unrepaired},
		func() error {
			out[l.ClientID] = l
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("latest reconcile runs: %w", err)
	}
	return out, nil
}
