package web

// The scheduled jobs page: schedules, runs, and running a job now (reconcile-memberships
// in the background: it outlasts any request).

import (
	"log/slog"
	"net/http"

	"tiersync/internal/schedule"
)

func (h *handler) cronPage(w http.ResponseWriter, r *http.Request) {
	jobs, err := h.opts.Scheduler.Jobs(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	runs, err := h.opts.Scheduler.Runs(r.Context(), 50)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, "cron", http.StatusOK, page{Title: "Scheduled jobs", Nav: "cron", Data: map[string]any{"Jobs": jobs, "Runs": runs,
		"CanReconcile": h.opts.Reconciler != nil, "ReconcileJob": schedule.JobReconcile}})
}

func (h *handler) cronRun(w http.ResponseWriter, r *http.Request) {
	if name := r.PostFormValue("job"); name == schedule.JobReconcile {
		// A reconcile outlasts any request (a big client's listing takes an hour at its
		// CRM's rate limit): it runs in the background with the job's own work, every
		// client and repairing, as its schedule runs it, and the page answers at once.
		run, err := h.opts.Scheduler.Begin(h.background(r), name, nil)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.opts.Logger.Info("admin: job started", slog.String("job", name), slog.Int64("run_id", run.ID))
		back(w, r, "/admin/cron", flashJobStarted)
		return
	}
	run, err := h.opts.Scheduler.Trigger(r.Context(), r.PostFormValue("job"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.opts.Logger.Info("admin: job run", slog.String("job", run.JobName), slog.Int64("run_id", run.ID), slog.String("status", run.Status))
	switch run.Status {
	case schedule.StatusSucceeded:
		back(w, r, "/admin/cron", flashJobSucceeded)
	case schedule.StatusFailed:
		back(w, r, "/admin/cron", flashJobFailed)
	default:
		back(w, r, "/admin/cron", flashJobStarted)
	}
}
