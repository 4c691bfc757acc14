package api

import (
	"net/http"

	"tiersync/internal/membership"
)

// listEnrollments is GET /api/enrollments?client_id=&tier_id=&status=&email=: one page,
// newest enrolled_at first, each item GET /api/enrollments/{id}'s enrollment plus the
// customer's email and names and the tier's name.
func (s *Server) listEnrollments(w http.ResponseWriter, r *http.Request) {
	limit, cursor, err := pageParams(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	q := r.URL.Query()
	f := membership.EnrollmentFilter{ClientID: q.Get("client_id"), TierID: q.Get("tier_id"), Status: q.Get("status"), Email: q.Get("email")}
	items, next, err := s.opts.Store.ListEnrollments(r.Context(), f, membership.Page{Limit: limit, Cursor: cursor})
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newList(items, next))
}

// cancelEnrollment is POST /api/enrollments/{id}/cancel: an operator ends an active
// enrollment (its event, the customer's flags and a cancel_membership row in one
// transaction) and gets it back as GET /api/enrollments/{id} shows it. It takes no body.
func (s *Server) cancelEnrollment(w http.ResponseWriter, r *http.Request) {
	e, sync, err := s.opts.Store.CancelEnrollment(r.Context(), r.PathValue("id"), membership.CauseAPI)
	if err != nil {
		fail(w, r, err)
		return
	}
	s.log.Info("enrollment cancelled", "enrollment_id", e.ID, "request_id", requestID(r.Context()))
	writeJSON(w, http.StatusOK, enrollmentAnswer{Enrollment: e, Sync: sync})
}
