package web

// The members pages: a client's members (its enrollments) with a search by email or name
// and filters by tier and status, and one customer's page (enrollments with their
// history, orders, lifetime value, and the customer's queue rows).

import (
	"net/http"
	"net/url"

	"tiersync/internal/membership"
	"tiersync/internal/queue"
)

// membersPageSize is the members list's page: the queue list's.
const membersPageSize = 50

// membersForm is the members list's filter as its form shows it.
type membersForm struct {
	ClientID, TierID, Status, Search string
}

func (h *handler) members(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	f := membersForm{ClientID: q.Get("client"), TierID: q.Get("tier"), Status: q.Get("status"), Search: q.Get("q")}
	clients, err := h.opts.Store.ClientsByName(ctx)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// A list per client: without one chosen, the first by name (the tier filter and the
	// tier names are a client's).
	if f.ClientID == "" && len(clients) > 0 {
		f.ClientID = clients[0].ID
	}
	data := map[string]any{"Filter": f, "Clients": clients, "Statuses": membership.EnrollmentStatuses}
	if f.ClientID == "" {
		h.render(w, r, "members", http.StatusOK, page{Title: "Members", Nav: "members", Data: data})
		return
	}
	client, tiers, err := h.clientTiers(ctx, f.ClientID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	items, next, err := h.opts.Store.SearchEnrollments(ctx, membership.EnrollmentFilter{ClientID: client.ID, TierID: f.TierID, Status: f.Status},
		f.Search, membership.Page{Limit: membersPageSize, Cursor: q.Get("cursor")})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	data["Client"], data["Tiers"], data["Items"], data["Next"] = client, tiers, items, nextPage("/admin/members", q, next)
	h.render(w, r, "members", http.StatusOK, page{Title: "Members of " + client.Name, Nav: "members", Data: data})
}

// nextPage is the URL of a list's next page: the same query with the next cursor; ""
// on the last page.
func nextPage(path string, q url.Values, cursor string) string {
	if cursor == "" {
		return ""
	}
	v := url.Values{}
	for k, vs := range q {
		v[k] = vs
	}
	v.Set("cursor", cursor)
	return path + "?" + v.Encode()
}

// tierNames are a client's tiers' names by id.
type tierNames map[string]string

func (h *handler) customer(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d, err := h.opts.Store.GetCustomer(ctx, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	client, tiers, err := h.clientTiers(ctx, d.ClientID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	names := tierNames{}
	for _, t := range tiers {
		names[t.ID] = t.Name
	}
	// The customer's queue rows come from the queue's own list, filtered by the customer's
	// id, and are shown by names as the queue page shows them.
	items, next, err := h.opts.Engine.List(ctx, queue.Filter{CustomerIDs: []string{d.ID}}, 50, "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rows, err := h.describe(ctx, items)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, "customer", http.StatusOK, page{Title: d.FirstName + " " + d.LastName, Nav: "members", Data: map[string]any{
		"Customer": d, "Client": client, "Tiers": names, "Currency": client.Currency, "Rows": rows, "MoreRows": next != "",
		"QueueLink": "/admin/queue?" + url.Values{"client": {d.ClientID}, "email": {d.Email}}.Encode(),
	}})
}
