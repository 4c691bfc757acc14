package api

import (
	"context"
	"net/http"
	"strconv"

	"tiersync/internal/apperr"
	"tiersync/internal/jobs"
	"tiersync/internal/reconcile"
)

// startReconcile is POST /api/cron action=trigger&job=reconcile-memberships: the run is
// recorded and started in the background (a big client's listing takes an hour at its
// CRM's rate limit), and answered 202 with its id; GET /api/reconcile/runs/{id} follows it.
func (s *Server) startReconcile(w http.ResponseWriter, r *http.Request, f cronFields) {
	if s.opts.Reconciler == nil {
		fail(w, r, apperr.Invalidf("reconciliation is not configured in this process"))
		return
	}
	opts := reconcile.Options{ClientID: f.ClientID, DryRun: f.DryRun}
	if opts.ClientID != "" {
		// Refused now, with a 4xx, rather than as a failed run.
		if _, err := s.opts.Store.GetClient(r.Context(), opts.ClientID); err != nil {
			fail(w, r, err)
			return
		}
	}
	ctx := s.opts.Background
	if ctx == nil {
		ctx = context.WithoutCancel(r.Context())
	}
	run, err := jobs.StartReconcile(ctx, s.opts.Scheduler, s.opts.Reconciler, opts)
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"run_id": run.ID, "job": run.JobName, "status": run.Status,
		"client_id": optionalString(opts.ClientID), "dry_run": opts.DryRun, "report": "/api/reconcile/runs/" + strconv.FormatInt(run.ID, 10)})
}

func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func reconcileRunID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, apperr.BadRequestf("run id %q is not a positive integer", truncate(r.PathValue("id"), 32))
	}
	return id, nil
}

// getReconcileRun is GET /api/reconcile/runs/{id}?client_id=&kind=&after=&limit=: the
// run, its clients' runs and a page of its differences.
func (s *Server) getReconcileRun(w http.ResponseWriter, r *http.Request) {
	id, err := reconcileRunID(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	rq, err := reconcile.ParseReportQuery(r.URL.Query())
	if err != nil {
		fail(w, r, err)
		return
	}
	rep, err := s.opts.Reconciler.Report(r.Context(), id, rq)
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// repairReconcileRun is POST /api/reconcile/runs/{id}/repair {"client_id": …}: "repair
// these" for a finished dry run's confirmed differences of one client.
func (s *Server) repairReconcileRun(w http.ResponseWriter, r *http.Request) {
	id, err := reconcileRunID(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	var b struct {
		ClientID *string `json:"client_id"`
	}
	if err := decodeJSON(r, &b); err != nil {
		fail(w, r, err)
		return
	}
	if err := required(map[string]bool{"client_id": b.ClientID != nil}); err != nil {
		fail(w, r, err)
		return
	}
	repaired, skipped, err := s.opts.Reconciler.RepairDryRun(runContext(r), id, *b.ClientID)
	if err != nil {
		fail(w, r, err)
		return
	}
	logger(r.Context()).Info("reconcile: dry run repaired", "run_id", id, "client_id", *b.ClientID, "repaired", repaired, "skipped", skipped)
	writeJSON(w, http.StatusOK, map[string]any{"run_id": id, "client_id": *b.ClientID, "repaired": repaired, "skipped": skipped})
}
