// Package jobs defines tiersync's periodic jobs over the domain packages, so that the
// scheduler in serve, POST /api/cron and `tiersync cron run` run the same code.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/alert"
	"tiersync/internal/membership"
	"tiersync/internal/queue"
	"tiersync/internal/reconcile"
	"tiersync/internal/schedule"
)

// Deps are what the jobs use.
type Deps struct {
	Pool            *pgxpool.Pool
	Store           *membership.Store
	Engine          *queue.Queue
	Alerter         *alert.Alerter // nil: no alerts
	ExpireBatchSize int
	QueueRetention  time.Duration
	// Reconciler runs reconcile-memberships (nil: the job does nothing).
	Reconciler *reconcile.Reconciler
}

// Specs are the jobs' cron schedules ("off" disables one).
type Specs struct {
	Expire, Sync, Reconcile string
}

// SweepResult is what a process-crm-sync-queue sweep saw and did.
type SweepResult struct {
	Due        int64    `json:"due"`
	Processing int64    `json:"processing"`
	Failed     int64    `json:"failed"`
	Pruned     int64    `json:"pruned"`
	Alerts     []string `json:"alerts"`
}

// Expire is process-expired-enrollments.
func Expire(d Deps) func(ctx context.Context, runID int64) (any, error) {
	return func(ctx context.Context, runID int64) (any, error) {
		return d.Store.Expire(ctx, d.ExpireBatchSize, &runID)
	}
}

// Sweep is process-crm-sync-queue: the workers are woken (a lost NOTIFY costs at most one
// sweep interval), old finished rows pruned, alerts checked, and the queue's state kept
// on the run. An alert that could not be delivered does not fail the sweep: it is logged
// and tried at the next one.
func Sweep(d Deps) func(ctx context.Context, runID int64) (any, error) {
	return func(ctx context.Context, _ int64) (any, error) {
		var r SweepResult
		if err := d.Pool.QueryRow(ctx, qSweep).Scan(&r.Due, &r.Processing, &r.Failed); err != nil {
			return nil, fmt.Errorf("sweep: %w", err)
		}
		pruned, err := d.Engine.Prune(ctx, d.QueueRetention, 1000)
		if err != nil {
			return nil, err
		}
		r.Pruned = pruned
		r.Alerts = []string{}
		if d.Alerter != nil {
			if sent, _ := d.Alerter.Check(ctx); sent != nil {
				r.Alerts = sent
			}
		}
		return r, nil
	}
}

// Reconcile is reconcile-memberships with opts (every client, repairing, when scheduled).
func Reconcile(rec *reconcile.Reconciler, opts reconcile.Options) func(ctx context.Context, runID int64) (any, error) {
	return func(ctx context.Context, runID int64) (any, error) {
		if rec == nil {
			return nil, errors.New("reconcile: not configured in this process")
		}
		return rec.Run(ctx, runID, opts)
	}
}

// StartReconcile records a manual reconcile-memberships run with opts and runs it in the
// background on ctx (a big client's listing takes an hour: never inside a request).
func StartReconcile(ctx context.Context, s *schedule.Scheduler, rec *reconcile.Reconciler, opts reconcile.Options) (schedule.Run, error) {
	return s.Begin(ctx, schedule.JobReconcile, Reconcile(rec, opts))
}

// Scheduler builds the scheduler of the jobs. The sweep also starts a reconcile run
// when a client's run was left unfinished by a process that died, so that it resumes
// within minutes rather than at the next weekly slot.
func Scheduler(d Deps, specs Specs, opts schedule.Options) (*schedule.Scheduler, error) {
	var s *schedule.Scheduler
	base, sweep := Sweep(d), Sweep(d)
	if d.Reconciler != nil {
		sweep = func(ctx context.Context, runID int64) (any, error) {
			res, err := base(ctx, runID)
			if n, oerr := d.Reconciler.Orphans(ctx); oerr == nil && n > 0 {
				// Not the sweep's context: a sweep run from a request (the admin page's "run
				// now") ends with it. A process that stops leaves the run to the heartbeat
				// watch and the next sweep, as a crash does.
				if _, err := StartReconcile(context.WithoutCancel(ctx), s, d.Reconciler, reconcile.Options{Resume: true}); err != nil {
					slog.Warn("resume reconcile runs", slog.String("error", err.Error()))
				}
			}
			return res, err
		}
	}
	var err error
	s, err = schedule.New(d.Pool, opts,
		schedule.Job{Name: schedule.JobExpire, Spec: specs.Expire, Run: Expire(d)},
		schedule.Job{Name: schedule.JobSync, Spec: specs.Sync, Run: sweep},
		schedule.Job{Name: schedule.JobReconcile, Spec: specs.Reconcile, Run: Reconcile(d.Reconciler, reconcile.Options{})})
	return s, err
}
