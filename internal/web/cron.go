package web

// The scheduled jobs page: schedules, runs, and running a job now.

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
	h.render(w, r, "cron", http.StatusOK, page{Title: "Scheduled jobs", Nav: "cron", Data: map[string]any{"Jobs": jobs, "Runs": runs}})
}

func (h *handler) cronRun(w http.ResponseWriter, r *http.Request) {
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
