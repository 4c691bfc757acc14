// Package queue is the crm_sync_queue engine: transactional enqueue, batched claims with
// FOR UPDATE SKIP LOCKED, leases kept alive by a heartbeat and rescued when they lapse,
// retries with exponential backoff, batched outcome writes, run-now operations, a graceful
// stop and retention. It knows nothing of CRMs nor of the domain's tables: it reads and
// writes only crm_sync_queue, crm_sync_attempts and crm_rate_buckets, runs a Handler for
// each claimed row and records what the Handler returns. What it needs from the domain is
// written on the row at enqueue: a rate key (whose bucket the row draws from) and an order
// key (rows of one key apply one at a time, in id order).
//
// The engine is a few small parts, each in its own file: the producer claims rows
// (producer.go), the executor runs one (executor.go), the writer records outcomes in
// batches (writer.go), the heartbeat keeps leases (heartbeat.go), maintenance rescues
// lapsed leases and prunes old rows (maintenance.go), waiters hear of finished rows
// (waiters.go), the listener turns NOTIFYs into wake-ups (listen.go); queue.go starts and
// stops them.
package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"tiersync/internal/crm"
)

// Actions.
const (
	ActionAdd     = "add_membership"
	ActionCancel  = "cancel_membership"
	ActionUpgrade = "upgrade_membership"
)

// Statuses.
const (
	StatusPending    = "pending"
	StatusProcessing = "processing"
	StatusCompleted  = "completed"
	StatusFailed     = "failed"
	StatusCancelled  = "cancelled"
)

// Priorities: higher runs first. An enrollment a member is waiting on outranks a
// nightly bulk of cancellations. Code that writes crm_sync_queue.priority uses these; the
// one exception is the migrations' process_expired_enrollments, which writes -10
// (PriorityLow) for the same nightly cancellations.
const (
	PriorityLow    = -10
	PriorityNormal = 0
	PriorityHigh   = 10
)

// Channel is the NOTIFY channel that wakes the workers. The migrations' SQL functions
// (process_expired_enrollments, process_crm_sync_queue) spell it out; everything else
// uses this constant.
const Channel = "tiersync_queue"

// Job is a claimed row, as the Handler sees it: the engine's fields only. What the row is
// about (client, customer, enrollment, tier ids) the handler reads from the row by ID.
type Job struct {
	ID int64
	// ActionType is the row's kind of work (ActionAdd, ActionCancel, ActionUpgrade).
	ActionType string
	// RateKey is the rate bucket the row's requests draw from; OrderKey groups rows that
	// apply one at a time, in id order.
	RateKey  string
	OrderKey string
	Priority int
	// Attempt is this attempt's number (1 for the first); MaxAttempts the limit.
	Attempt     int
	MaxAttempts int
	CreatedAt   time.Time
}

// Handler does the work of one row. It returns nil on success; an error made by
// Permanent fails the row at once; any other error is retried with backoff until the
// row runs out of attempts. ctx ends when the row's lease is lost or the queue stops.
type Handler func(ctx context.Context, job Job) error

// permanentError marks an error no retry can fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that no retry can fix (a 4xx from the CRM, say): the row
// fails at once with err's message.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err was marked by Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// ThrottledError says the CRM refused for now (429, THROTTLED): retry after After.
type ThrottledError struct {
	After time.Duration
	Err   error
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("throttled by the CRM; retry after %v: %v", e.After, e.Err)
}
func (e *ThrottledError) Unwrap() error { return e.Err }

// Throttled marks err as the CRM's "too many requests, retry after d": the row goes back
// to pending at now + d without spending its attempt, and its client alone pauses for d.
func Throttled(after time.Duration, err error) error {
	return &ThrottledError{After: max(after, time.Second), Err: err}
}

// HTTPStatus is implemented by errors that carry the CRM's HTTP status, so the attempt
// history can show it.
type HTTPStatus interface{ HTTPStatus() int }

func httpStatusOf(err error) *int {
	var h HTTPStatus
	if errors.As(err, &h) {
		if s := h.HTTPStatus(); s >= 100 && s <= 599 {
			return &s
		}
	}
	return nil
}

// errorMessage is what goes into error_message: the error's text, capped so one huge
// CRM answer cannot bloat the row, and made valid UTF-8 without NUL (on a character
// boundary), which PostgreSQL's text refuses otherwise.
func errorMessage(err error) string {
	return crm.CleanText(err.Error(), crm.MaxMessage)
}
