package api

import (
	"net/http"

	"tiersync/internal/membership"
)

// listCustomers is GET /api/customers?client_id=&email=: one page, newest first.
func (s *Server) listCustomers(w http.ResponseWriter, r *http.Request) {
	limit, cursor, err := pageParams(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	q := r.URL.Query()
	f := membership.CustomerFilter{ClientID: q.Get("client_id"), Email: q.Get("email")}
	items, next, err := s.opts.Store.ListCustomers(r.Context(), f, membership.Page{Limit: limit, Cursor: cursor})
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newList(items, next))
}

// getCustomer is GET /api/customers/{id}: the customer with its enrollments (each with its
// history) and its orders.
func (s *Server) getCustomer(w http.ResponseWriter, r *http.Request) {
	c, err := s.opts.Store.GetCustomer(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}
