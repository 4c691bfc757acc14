package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"tiersync/internal/apperr"
	"tiersync/internal/membership"
	"tiersync/internal/queue"
)

type enrollBody struct {
	ClientID   string                  `json:"client_id"`
	TierID     string                  `json:"tier_id"`
	EnrolledAt *string                 `json:"enrolled_at"`
	Customer   *membership.NewCustomer `json:"customer"`
}

type enrollmentAnswer struct {
	Enrollment membership.Enrollment `json:"enrollment"`
	Sync       *membership.Sync      `json:"sync"`
}

// enroll is POST /api/enrollments: one transaction writes the customer, the enrollment
// and its add_membership row; then, for Commerce7, it waits up to INLINE_SYNC_TIMEOUT for
// the worker, so the answer usually carries the CRM's membership id. The wait never fails
// the request: a CRM that is down leaves the row pending and the answer is still 201.
func (s *Server) enroll(w http.ResponseWriter, r *http.Request) {
	var b enrollBody
	if err := decodeJSON(r, &b); err != nil {
		fail(w, r, err)
		return
	}
	in := membership.NewEnrollment{ClientID: b.ClientID, TierID: b.TierID, Customer: b.Customer}
	if b.EnrolledAt != nil {
		t, err := time.Parse(time.RFC3339, *b.EnrolledAt)
		if err != nil {
			fail(w, r, apperr.BadRequestf("enrolled_at %q is not an RFC 3339 timestamp (e.g. 2026-01-31T00:00:00Z)", *b.EnrolledAt))
			return
		}
		in.EnrolledAt = &t
	}
	res, err := s.opts.Store.Enroll(r.Context(), in)
	if err != nil {
		fail(w, r, err)
		return
	}
	answer := enrollmentAnswer{Enrollment: res.Enrollment, Sync: &membership.Sync{QueueID: res.QueueID, Status: queue.StatusPending}}
	if res.CRMType == membership.CRMCommerce7 && s.opts.Queue != nil && s.opts.InlineSyncTimeout > 0 {
		answer.Sync.Status = s.waitInline(r.Context(), res.QueueID)
		if answer.Sync.Status == queue.StatusCompleted {
			if e, _, err := s.opts.Store.GetEnrollment(r.Context(), res.Enrollment.ID); err == nil {
				answer.Enrollment = e
			}
		}
	}
	writeJSON(w, http.StatusCreated, answer)
}

// waitInline waits for the row, at most INLINE_SYNC_TIMEOUT; it stops waiting, it never
// cancels the CRM call: the row finishes on its worker.
func (s *Server) waitInline(ctx context.Context, id int64) string {
	ctx, cancel := context.WithTimeout(ctx, s.opts.InlineSyncTimeout)
	defer cancel()
	status, err := s.opts.Queue.Wait(ctx, id)
	if err != nil {
		s.log.Warn("inline sync wait", slog.Int64("queue_id", id), slog.String("error", err.Error()))
		return queue.StatusPending
	}
	return status
}

func (s *Server) getEnrollment(w http.ResponseWriter, r *http.Request) {
	e, sync, err := s.opts.Store.GetEnrollment(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, enrollmentAnswer{Enrollment: e, Sync: sync})
}
