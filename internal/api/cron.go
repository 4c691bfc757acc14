package api

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"tiersync/internal/apperr"
	"tiersync/internal/membership"
	"tiersync/internal/schedule"
)

// getCron is GET /api/cron: the jobs, their schedules and last runs, and the 20 newest runs.
func (s *Server) getCron(w http.ResponseWriter, r *http.Request) {
	jobs, err := s.opts.Scheduler.Jobs(r.Context())
	if err != nil {
		fail(w, r, err)
		return
	}
	runs, err := s.opts.Scheduler.Runs(r.Context(), 20)
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": jobs, "runs": runs})
}

// cronFields are POST /api/cron's fields.
type cronFields struct {
	Action, Job string
	// reconcile-memberships only.
	ClientID string
	DryRun   bool
}

// cronForm reads POST /api/cron's body: form-encoded as in the seeds' curl examples, or JSON.
func cronForm(r *http.Request) (cronFields, error) {
	var f cronFields
	raw, err := readBody(r)
	if err != nil {
		return f, err
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" || (ct == "" && strings.HasPrefix(strings.TrimSpace(string(raw)), "{")) {
		var body struct {
			Action   string `json:"action"`
			Job      string `json:"job"`
			ClientID string `json:"client_id"`
			DryRun   bool   `json:"dry_run"`
		}
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			return f, jsonError(err)
		}
		return cronFields{Action: body.Action, Job: body.Job, ClientID: body.ClientID, DryRun: body.DryRun}, nil
	}
	if ct != "" && ct != "application/x-www-form-urlencoded" {
		return f, apperr.BadRequestf("Content-Type must be application/x-www-form-urlencoded or application/json, got %q", ct)
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		return f, apperr.BadRequestf("malformed form body: %v", err)
	}
	f = cronFields{Action: form.Get("action"), Job: form.Get("job"), ClientID: form.Get("client_id")}
	if v := form.Get("dry_run"); v != "" {
		if f.DryRun, err = strconv.ParseBool(v); err != nil {
			return f, apperr.BadRequestf("dry_run must be true or false, got %q", truncate(v, 32))
		}
	}
	return f, nil
}

// runContext is the context of work a request starts and that must not stop halfway when
// the caller leaves or the request's deadline (REQUEST_TIMEOUT) passes: a job run between
// two batches, a CRM call whose answer would be lost. The run finishes and records its
// result in job_runs and the queue; the caller may have stopped waiting for it.
func runContext(r *http.Request) context.Context { return context.WithoutCancel(r.Context()) }

// postCron is POST /api/cron: action=trigger&job=…, action=sync, action=test.
func (s *Server) postCron(w http.ResponseWriter, r *http.Request) {
	f, err := cronForm(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	action, job := f.Action, f.Job
	if (f.ClientID != "" || f.DryRun) && job != schedule.JobReconcile {
		fail(w, r, apperr.BadRequestf("client_id and dry_run are for job=%s only", schedule.JobReconcile))
		return
	}
	switch {
	case action == "trigger" && job == schedule.JobReconcile:
		s.startReconcile(w, r, f)
	case action == "trigger" && job == schedule.JobExpire:
		run, err := s.opts.Scheduler.Trigger(runContext(r), schedule.JobExpire)
		if err != nil {
			fail(w, r, err)
			return
		}
		if run.Status != schedule.StatusSucceeded {
			msg := "the run failed"
			if run.Error != nil {
				msg = *run.Error
			}
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": msg, "run_id": run.ID, "job": run.JobName})
			return
		}
		var res membership.ExpireResult
		_ = json.Unmarshal(run.Result, &res)
		writeJSON(w, http.StatusOK, map[string]any{"run_id": run.ID, "job": run.JobName, "expired": res.Expired, "queued": res.Queued})
	case action == "sync" || (action == "trigger" && job == schedule.JobSync):
		run, err := s.opts.Scheduler.TriggerWith(runContext(r), schedule.JobSync, func(ctx context.Context, _ int64) (any, error) {
			return s.opts.Engine.RunDue(ctx, syncBatch)
		})
		if err != nil {
			fail(w, r, err)
			return
		}
		if run.Status != schedule.StatusSucceeded {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": *run.Error, "run_id": run.ID, "job": run.JobName})
			return
		}
		var res map[string]any
		_ = json.Unmarshal(run.Result, &res)
		writeJSON(w, http.StatusOK, res)
	case action == "test":
		n, due, err := s.opts.Store.ExpireDryRun(r.Context(), 100)
		if err != nil {
			fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"would_expire": n, "enrollments": due})
	case action == "trigger" && job == "":
		fail(w, r, apperr.BadRequestf("action=trigger needs job=%s, job=%s or job=%s", schedule.JobExpire, schedule.JobSync, schedule.JobReconcile))
	case action == "trigger":
		fail(w, r, apperr.BadRequestf("unknown job %q (one of %s, %s, %s)", truncate(job, 64), schedule.JobExpire, schedule.JobSync, schedule.JobReconcile))
	case action == "":
		fail(w, r, apperr.BadRequestf("action is required: trigger, sync or test"))
	default:
		fail(w, r, apperr.BadRequestf("unknown action %q (one of trigger, sync, test)", action))
	}
}
