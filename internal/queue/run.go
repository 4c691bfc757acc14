package queue

import (
	"context"
	"errors"
	"sync"
	"time"

	"tiersync/internal/apperr"
)

// RunResult counts what RunDue did.
type RunResult struct {
	Processed int `json:"processed"`
	Succeeded int `json:"succeeded"`
	// Failed is Processed − Succeeded: rows that failed or went back to wait for a retry.
	Failed int `json:"failed"`
}

// runParallel is how many rows RunDue runs at once inside the caller.
const runParallel = 8

// RunDue claims up to limit due rows and runs them inside the caller (for
// /api/cron/sync, so an outside scheduler can drive the queue), returning the counts.
func (q *Queue) RunDue(ctx context.Context, limit int) (RunResult, error) {
	jobs, err := q.claimer.due(ctx, limit)
	if err != nil {
		return RunResult{}, err
	}
	var (
		res RunResult
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, runParallel)
	)
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			o := q.runInline(j)
			mu.Lock()
			res.Processed++
			if o.status == StatusCompleted {
				res.Succeeded++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Failed = res.Processed - res.Succeeded
	return res, nil
}

// RunOne runs pending row id now, whatever its next_retry_at, and returns its status
// afterwards. A row that does not exist is NotFound; one in another status (or being
// claimed by a worker this instant) is a Conflict.
func (q *Queue) RunOne(ctx context.Context, id int64) (string, error) {
	// The status before the claim: a row already failed must be a 409, not told apart
	// afterwards from a pending row the claim fails for having no attempts left.
	before, err := rowStatus(ctx, q.pool, id)
	if err != nil {
		return "", err
	}
	if before != StatusPending {
		return "", apperr.Conflictf("queue row %d is %s; only a pending row can be run now", id, before).
			With("status", before)
	}
	jobs, err := q.claimer.one(ctx, id)
	if err != nil {
		return "", err
	}
	if len(jobs) == 0 {
		status, err := rowStatus(ctx, q.pool, id)
		if err != nil {
			return "", err
		}
		if status == StatusFailed {
			// Pending before, failed at claim: it had no attempts left.
			return status, nil
		}
		return "", apperr.Conflictf("queue row %d is %s; only a pending row can be run now", id, status).
			With("status", status)
	}
	o := q.runInline(jobs[0])
	return o.status, nil
}

// runInline runs one claimed row in the caller's goroutine, renewing its lease meanwhile
// (the engine's heartbeat may not be running in this process), and writes the outcome.
func (q *Queue) runInline(j Job) outcome {
	stop := make(chan struct{})
	var beat sync.WaitGroup
	beat.Add(1)
	go func() {
		defer beat.Done()
		t := time.NewTicker(q.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				_ = q.heartbeat.runOnce(context.Background()) // logged by the engine's loop when it runs
			}
		}
	}()
	var result outcome
	q.executor.execute(j, func(o outcome, done func(error)) {
		result = o
		err := q.writer.writeNow(o)
		if errors.Is(err, errLeaseLost) {
			result.status = "" // someone else decides this row now
		}
		done(err)
	}, func() {})
	close(stop)
	beat.Wait()
	return result
}
