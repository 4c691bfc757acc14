// Package jobs defines tiersync's two periodic jobs over the domain packages, so that the
// scheduler in serve, POST /api/cron and `tiersync cron run` run the same code.
package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/alert"
	"tiersync/internal/membership"
	"tiersync/internal/queue"
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

// Scheduler builds the scheduler of both jobs.
func Scheduler(d Deps, expireSpec, syncSpec string, opts schedule.Options) (*schedule.Scheduler, error) {
	return schedule.New(d.Pool, opts,
		schedule.Job{Name: schedule.JobExpire, Spec: expireSpec, Run: Expire(d)},
		schedule.Job{Name: schedule.JobSync, Spec: syncSpec, Run: Sweep(d)})
}
