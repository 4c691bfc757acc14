package web

// The queue pages: the list with its filters, one row with its history and context, and
// the operator's actions on rows.

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"tiersync/internal/apperr"
	"tiersync/internal/membership"
	"tiersync/internal/queue"
)

func (h *handler) queueList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := queue.Filter{Status: q.Get("status"), ActionType: q.Get("action"), ClientID: q.Get("client")}
	if email := q.Get("email"); email != "" {
		// The engine filters on its own columns: the email becomes its customers' ids.
		ids, err := h.opts.Store.CustomerIDsByEmail(r.Context(), email, queue.MaxFilterCustomerIDs)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		f.CustomerIDs = ids
	}
	items, next, err := h.opts.Engine.List(r.Context(), f, 50, q.Get("cursor"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	clients, _, err := h.opts.Store.ListClients(r.Context(), membership.Page{Limit: membership.MaxPageLimit})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rows, err := h.describe(r.Context(), items)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	nextURL := nextPage("/admin/queue", q, next)
	h.render(w, r, "queue", http.StatusOK, page{Title: "Queue", Nav: "queue", Data: map[string]any{
		"Items": rows, "Filter": queueForm{Filter: f, CustomerEmail: q.Get("email")}, "Clients": clients, "Statuses": queue.Statuses, "Actions": queue.Actions,
		"Next": nextURL, "Here": r.URL.RequestURI(),
	}})
}

// queueRow is a queue row as the lists show it: by its client's name, its customer's
// email and its tiers' names, which their owner (membership) has, not the queue.
type queueRow struct {
	queue.Item
	Client, Email, Tier, OldTier string
	// CustomerGone: the customer was deleted (or redacted away) since; Email is its id.
	CustomerGone bool
}

// describe lays names onto a page of queue rows: one read of the clients, one of each
// client's tiers and one of the customers' emails, whatever the page's length. A name
// that is gone shows the id.
func (h *handler) describe(ctx context.Context, items []queue.Item) ([]queueRow, error) {
	clients, err := h.opts.Store.ClientsByName(ctx)
	if err != nil {
		return nil, err
	}
	clientNames := make(map[string]string, len(clients))
	for _, c := range clients {
		clientNames[c.ID] = c.Name
	}
	tiers := tierNames{}
	seen := map[string]bool{}
	var customers []string
	for _, it := range items {
		if !seen[it.CustomerID] {
			seen[it.CustomerID] = true
			customers = append(customers, it.CustomerID)
		}
		if _, known := clientNames[it.ClientID]; !known || seen["client:"+it.ClientID] {
			continue
		}
		seen["client:"+it.ClientID] = true
		list, _, err := h.opts.Store.ListTiers(ctx, it.ClientID, membership.Page{Limit: membership.MaxPageLimit})
		if err != nil {
			return nil, err
		}
		for _, t := range list {
			tiers[t.ID] = t.Name
		}
	}
	emails, err := h.opts.Store.CustomerEmails(ctx, customers)
	if err != nil {
		return nil, err
	}
	or := func(m map[string]string, id string) string {
		if v, ok := m[id]; ok {
			return v
		}
		return id
	}
	out := make([]queueRow, 0, len(items))
	for _, it := range items {
		row := queueRow{Item: it, Client: or(clientNames, it.ClientID), Email: or(emails, it.CustomerID), Tier: or(tiers, it.TierID)}
		_, found := emails[it.CustomerID]
		row.CustomerGone = !found
		if it.OldTierID != nil {
			row.OldTier = or(tiers, *it.OldTierID)
		}
		out = append(out, row)
	}
	return out, nil
}

func (h *handler) queueItem(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		h.fail(w, r, apperr.BadRequestf("%q is not a queue row id", r.PathValue("id")))
		return
	}
	it, history, err := h.opts.Engine.Get(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// What the row is about comes from the tables' owner; a client or customer deleted
	// since leaves the fields blank.
	c, _, err := h.opts.Store.Subject(r.Context(), it.ClientID, it.CustomerID, it.EnrollmentID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	described, err := h.describe(r.Context(), []queue.Item{it})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	tries, resets := numberAttempts(history)
	h.render(w, r, "item", http.StatusOK, page{Title: fmt.Sprintf("Queue row #%d", id), Nav: "queue", Data: map[string]any{
		"Item": it, "Row": described[0], "History": tries, "Resets": resets, "Context": c,
		"Actionable": it.Status == queue.StatusPending || it.Status == queue.StatusFailed,
	}})
}

// try is one line of a row's history as the item page numbers it (its attempt number is
// .Attempt.Attempt in a template: the embedded struct's name hides the promoted field).
type try struct {
	queue.Attempt
	// N counts every try of the row, 1, 2, 3, … across resets, so that two lines that
	// both say "attempt 1 of 5" are still told apart.
	N int
	// AfterReset marks the first try after an operator gave the row its attempts back
	// ("Retry with all attempts"): the attempt numbers start again at 1.
	AfterReset bool
}

// numberAttempts numbers a row's history (oldest first) and counts the resets in it. A
// reset shows as an attempt number lower than the one before, or the same number again
// after an outcome that counted (a released or throttled try gives its attempt back, so
// the next try has its number by right).
func numberAttempts(history []queue.Attempt) ([]try, int) {
	out := make([]try, 0, len(history))
	resets := 0
	for i, a := range history {
		t := try{Attempt: a, N: i + 1}
		if i > 0 {
			prev := history[i-1]
			gaveBack := prev.Outcome == "released" || prev.Outcome == "throttled"
			if a.Attempt < prev.Attempt || (a.Attempt == prev.Attempt && !gaveBack) {
				t.AfterReset = true
				resets++
			}
		}
		out = append(out, t)
	}
	return out, resets
}

func (h *handler) retry(w http.ResponseWriter, r *http.Request) {
	h.change(w, r, "retried", flashRetried, func(ctx context.Context, id int64) (queue.Item, error) {
		return h.opts.Engine.Retry(ctx, id, r.PostFormValue("reset") == "1")
	})
}

func (h *handler) cancel(w http.ResponseWriter, r *http.Request) {
	h.change(w, r, "cancelled", flashCancelled, h.opts.Engine.Cancel)
}

func (h *handler) change(w http.ResponseWriter, r *http.Request, verb string, done flashCode, do func(context.Context, int64) (queue.Item, error)) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		h.fail(w, r, apperr.BadRequestf("%q is not a queue row id", r.PathValue("id")))
		return
	}
	if _, err := do(r.Context(), id); err != nil {
		if apperr.KindOf(err) == apperr.Conflict {
			back(w, r, fmt.Sprintf("/admin/queue/%d", id), flashNotActionable)
			return
		}
		h.fail(w, r, err)
		return
	}
	h.opts.Logger.Info("admin: queue row "+verb, slog.Int64("queue_id", id))
	back(w, r, fmt.Sprintf("/admin/queue/%d", id), done)
}

func (h *handler) retryFailed(w http.ResponseWriter, r *http.Request) {
	n, err := h.opts.Engine.RetryFailed(r.Context(), queue.Filter{ClientID: r.PostFormValue("client")}, false)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.opts.Logger.Info("admin: failed rows retried", slog.Int64("count", n))
	back(w, r, "/admin/queue?status=pending", flashFailedRetried)
}
