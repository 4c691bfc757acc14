// Package schedule runs tiersync's periodic jobs on cron schedules (UTC) so that each slot
// runs exactly once however many replicas race for it: a run is a job_runs row, and the
// unique (job_name, scheduled_for) key lets only one replica insert it. Manual runs get
// rows of their own. A running run's process renews a heartbeat on its row; every
// replica fails the runs whose heartbeat went stale (their process died). A heartbeat
// rather than a session advisory lock, because a transaction pooler gives no session.
package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/robfig/cron/v3"

	"tiersync/internal/apperr"
)

// Job names (the job_runs.job_name values).
const (
	JobExpire    = "process-expired-enrollments"
	JobSync      = "process-crm-sync-queue"
	JobReconcile = "reconcile-memberships"
)

// Run statuses.
const (
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
)

// Job is a periodic job.
type Job struct {
	Name string
	// Spec is a five-field cron expression in UTC, or "off".
	Spec string
	// Run does the work; its result is stored as JSON on the run.
	Run func(ctx context.Context, runID int64) (any, error)
}

// Run is a job_runs row.
type Run struct {
	ID           int64           `json:"id"`
	JobName      string          `json:"job_name"`
	Trigger      string          `json:"trigger"`
	ScheduledFor time.Time       `json:"scheduled_for"`
	StartedAt    time.Time       `json:"started_at"`
	FinishedAt   *time.Time      `json:"finished_at"`
	Status       string          `json:"status"`
	Result       json.RawMessage `json:"result"`
	Error        *string         `json:"error"`
}

// JobInfo is a job as GET /api/cron shows it.
type JobInfo struct {
	Name      string     `json:"name"`
	Schedule  string     `json:"schedule"`
	Enabled   bool       `json:"enabled"`
	NextRunAt *time.Time `json:"next_run_at"`
	LastRun   *Run       `json:"last_run"`
}

type job struct {
	Job
	sched cron.Schedule // nil: off
}

// Scheduler runs the jobs.
type Scheduler struct {
	pool   *pgxpool.Pool
	runner string
	log    *slog.Logger
	jobs   map[string]*job
	order  []string // the jobs' names as given to New: GET /api/cron's order
	now    func() time.Time
	// observe is told of every finished run (metrics); nil: nobody.
	observe func(job, status string, d time.Duration)
	// heartbeat is how often this process renews its running runs' heartbeats and looks
	// for dead runs; a run is dead after staleBeats heartbeats missed.
	heartbeat time.Duration

	mu      sync.Mutex
	running map[int64]struct{} // this process's running runs
}

// staleBeats heartbeats missed make a run dead: enough that a replica briefly starved
// of CPU or of database connections is not declared dead, few enough that a dead run
// shows as failed within a minute at the default heartbeat.
const staleBeats = 6

// DefaultHeartbeat is Options.Heartbeat when unset.
const DefaultHeartbeat = 10 * time.Second

// Options configure a Scheduler.
type Options struct {
	Runner  string           // this process, recorded on its runs
	Logger  *slog.Logger     //
	Now     func() time.Time // nil: time.Now
	Observe func(job, status string, d time.Duration)
	// Heartbeat is how often running runs renew their heartbeat (0: DefaultHeartbeat); a
	// run whose heartbeat is six of these old is failed as dead.
	Heartbeat time.Duration
}

// New makes a scheduler of jobs; a bad cron spec is an error.
func New(pool *pgxpool.Pool, opts Options, jobs ...Job) (*Scheduler, error) {
	s := &Scheduler{pool: pool, runner: opts.Runner, log: opts.Logger, jobs: map[string]*job{}, now: opts.Now, observe: opts.Observe,
		heartbeat: opts.Heartbeat, running: map[int64]struct{}{}}
	if s.heartbeat <= 0 {
		s.heartbeat = DefaultHeartbeat
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	for _, j := range jobs {
		jj := &job{Job: j}
		if j.Spec != "off" && j.Spec != "" {
			sched, err := cron.ParseStandard(j.Spec)
			if err != nil {
				return nil, fmt.Errorf("schedule %s: %q: %w", j.Name, j.Spec, err)
			}
			jj.sched = sched
		}
		s.jobs[j.Name] = jj
		s.order = append(s.order, j.Name)
	}
	return s, nil
}

// Start runs each job at its slots until ctx ends, and keeps the heartbeats: this
// process's running runs', and a watch on every other process's.
func (s *Scheduler) Start(ctx context.Context) {
	go s.keep(ctx)
	for _, j := range s.jobs {
		if j.sched == nil {
			continue
		}
		go s.loop(ctx, j)
	}
}

// keep renews this process's heartbeats and fails dead runs, once a heartbeat.
func (s *Scheduler) keep(ctx context.Context) {
	t := time.NewTicker(s.heartbeat)
	defer t.Stop()
	for {
		if err := s.Beat(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("job run heartbeat", slog.String("error", err.Error()))
		}
		if n, err := s.RecoverCrashed(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("recover crashed runs", slog.String("error", err.Error()))
		} else if n > 0 {
			s.log.Warn("runs of dead processes marked failed", slog.Int64("count", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Beat renews the heartbeat of this process's running runs.
func (s *Scheduler) Beat(ctx context.Context) error {
	s.mu.Lock()
	ids := make([]int64, 0, len(s.running))
	for id := range s.running {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, qBeatRuns, pgx.StrictNamedArgs{"ids": ids}); err != nil {
		return fmt.Errorf("renew job run heartbeats: %w", err)
	}
	return nil
}

func (s *Scheduler) loop(ctx context.Context, j *job) {
	for {
		slot := j.sched.Next(s.now().UTC())
		t := time.NewTimer(time.Until(slot))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if _, _, err := s.RunSlot(ctx, j.Name, slot); err != nil && ctx.Err() == nil {
			s.log.Error("scheduled run", slog.String("job", j.Name), slog.Time("slot", slot), slog.String("error", err.Error()))
		}
	}
}

// RunSlot runs the job for its scheduled slot unless another replica already did (or is
// doing) it: ran reports whether this call ran it.
func (s *Scheduler) RunSlot(ctx context.Context, name string, slot time.Time) (Run, bool, error) {
	return s.start(ctx, name, "schedule", &slot, nil)
}

// Trigger runs the job now, as a manual run with a row of its own.
func (s *Scheduler) Trigger(ctx context.Context, name string) (Run, error) {
	return s.TriggerWith(ctx, name, nil)
}

// TriggerWith records a manual run of the job that does run instead of the job's own
// work (nil: the job's own): POST /api/cron's action=sync runs due rows inside the
// request, where the scheduled sweep only wakes the workers.
func (s *Scheduler) TriggerWith(ctx context.Context, name string, run func(context.Context, int64) (any, error)) (Run, error) {
	r, _, err := s.start(ctx, name, "manual", nil, run)
	return r, err
}

// Begin records a manual run of the job and runs it in the background (run nil: the
// job's own work), for a job that outlasts a request (reconcile-memberships): it returns
// the run's row at once, still running. The work runs on ctx, which the caller keeps
// alive (serve's own context): a stopped process leaves the run to the heartbeat watch.
func (s *Scheduler) Begin(ctx context.Context, name string, run func(context.Context, int64) (any, error)) (Run, error) {
	id, work, ok, err := s.insert(ctx, name, "manual", nil, run)
	if err != nil || !ok {
		return Run{}, err
	}
	go func() {
		if _, err := s.execute(ctx, id, name, "manual", work); err != nil && ctx.Err() == nil {
			s.log.Error("background run", slog.String("job", name), slog.Int64("run_id", id), slog.String("error", err.Error()))
		}
	}()
	return Run{ID: id, JobName: name, Trigger: "manual", Status: StatusRunning, StartedAt: s.now().UTC()}, nil
}

// names lists the jobs for an error message.
func (s *Scheduler) names() string {
	var names []string
	for n := range s.jobs {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func (s *Scheduler) start(ctx context.Context, name, trigger string, slot *time.Time, run func(context.Context, int64) (any, error)) (Run, bool, error) {
	id, work, ok, err := s.insert(ctx, name, trigger, slot, run)
	if err != nil || !ok {
		return Run{}, ok, err
	}
	r, err := s.execute(ctx, id, name, trigger, work)
	return r, true, err
}

// insert records a run of the job; ok is false when another replica has the slot. It
// marks the run this process's (heartbeats) until execute ends it.
func (s *Scheduler) insert(ctx context.Context, name, trigger string, slot *time.Time, run func(context.Context, int64) (any, error)) (id int64, work func(context.Context, int64) (any, error), ok bool, err error) {
	j, known := s.jobs[name]
	if !known {
		return 0, nil, false, apperr.BadRequestf("unknown job %q (one of %s)", name, s.names())
	}
	work = j.Run
	if run != nil {
		work = run
	}
	for try := 0; ; try++ {
		err = s.pool.QueryRow(ctx, qInsertRun, pgx.StrictNamedArgs{
			"job_name": name, "trigger": trigger, "scheduled_for": slot, "runner": s.runner,
		}).Scan(&id)
		// A manual run's slot is the moment it was asked for: two asked for on two replicas
		// in the same microsecond (a test that fires both at once hit it) are two runs, so
		// the later insert takes the next moment.
		if !errors.Is(err, pgx.ErrNoRows) || slot != nil || try == 3 {
			break
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, false, nil // another replica has this slot
	}
	if err != nil {
		return 0, nil, false, fmt.Errorf("run %s: %w", name, err)
	}
	s.mu.Lock()
	s.running[id] = struct{}{}
	s.mu.Unlock()
	return id, work, true, nil
}

// execute does run id's work and records how it ended.
func (s *Scheduler) execute(ctx context.Context, id int64, name, trigger string, work func(context.Context, int64) (any, error)) (Run, error) {
	defer func() {
		s.mu.Lock()
		delete(s.running, id)
		s.mu.Unlock()
	}()
	var err error
	began := time.Now()
	result, runErr := work(ctx, id)
	status, errText := StatusSucceeded, (*string)(nil)
	if runErr != nil {
		status = StatusFailed
		msg := runErr.Error()
		errText = &msg
	}
	var resultJSON []byte
	if result != nil {
		if resultJSON, err = json.Marshal(result); err != nil {
			return Run{}, fmt.Errorf("run %s: result: %w", name, err)
		}
	}
	var r Run
	err = s.pool.QueryRow(context.WithoutCancel(ctx), qFinishRun, pgx.StrictNamedArgs{
		"id": id, "status": status, "result": resultJSON, "error": errText,
	}).Scan(
		&r.ID, &r.JobName, &r.Trigger, &r.ScheduledFor, &r.StartedAt, &r.FinishedAt, &r.Status, &r.Result, &r.Error)
	if err != nil {
		return Run{}, fmt.Errorf("run %s: finish: %w", name, err)
	}
	if s.observe != nil {
		s.observe(name, status, time.Since(began))
	}
	s.log.Info("job run", slog.String("job", name), slog.String("trigger", trigger), slog.Int64("run_id", id),
		slog.String("status", status), slog.Duration("took", time.Since(began)))
	return r.utc(), nil
}

func (r Run) utc() Run {
	r.ScheduledFor, r.StartedAt = r.ScheduledFor.UTC(), r.StartedAt.UTC()
	if r.FinishedAt != nil {
		t := r.FinishedAt.UTC()
		r.FinishedAt = &t
	}
	return r
}

// RecoverCrashed marks failed every run still "running" whose process is gone (its
// heartbeat is six heartbeats old), and returns how many.
func (s *Scheduler) RecoverCrashed(ctx context.Context) (int64, error) {
	stale := (staleBeats * s.heartbeat).Seconds()
	tag, err := s.pool.Exec(ctx, qRecoverRuns, pgx.StrictNamedArgs{"stale_seconds": stale})
	if err != nil {
		return 0, fmt.Errorf("recover crashed runs: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Jobs describes every job: its schedule, next slot and last run.
func (s *Scheduler) Jobs(ctx context.Context) ([]JobInfo, error) {
	var out []JobInfo
	for _, name := range s.order {
		j := s.jobs[name]
		info := JobInfo{Name: j.Name, Schedule: j.Spec, Enabled: j.sched != nil}
		if j.sched != nil {
			next := j.sched.Next(s.now().UTC())
			info.NextRunAt = &next
		}
		rows, err := s.pool.Query(ctx, qLastRun, pgx.StrictNamedArgs{"job_name": j.Name})
		if err != nil {
			return nil, fmt.Errorf("jobs: %w", err)
		}
		runs, err := pgx.CollectRows(rows, scanRun)
		if err != nil {
			return nil, fmt.Errorf("jobs: %w", err)
		}
		if len(runs) > 0 {
			info.LastRun = &runs[0]
		}
		out = append(out, info)
	}
	return out, nil
}

// Runs returns the newest runs.
func (s *Scheduler) Runs(ctx context.Context, limit int) ([]Run, error) {
	rows, err := s.pool.Query(ctx, qRuns, pgx.StrictNamedArgs{"limit": limit})
	if err != nil {
		return nil, fmt.Errorf("runs: %w", err)
	}
	runs, err := pgx.CollectRows(rows, scanRun)
	if err != nil {
		return nil, fmt.Errorf("runs: %w", err)
	}
	if runs == nil {
		runs = []Run{}
	}
	return runs, nil
}

func scanRun(row pgx.CollectableRow) (Run, error) {
	var r Run
	err := row.Scan(&r.ID, &r.JobName, &r.Trigger, &r.ScheduledFor, &r.StartedAt, &r.FinishedAt, &r.Status, &r.Result, &r.Error)
	return r.utc(), err
}
