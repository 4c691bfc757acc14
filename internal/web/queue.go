package web

// The queue pages: the list with its filters, one row with its history and context, and
// the operator's actions on rows.

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
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
	nextURL := ""
	if next != "" {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("cursor", next)
		nextURL = "/admin/queue?" + v.Encode()
	}
	h.render(w, r, "queue", http.StatusOK, page{Title: "Queue", Nav: "queue", Data: map[string]any{
		"Items": items, "Filter": queueForm{Filter: f, CustomerEmail: q.Get("email")}, "Clients": clients, "Statuses": queue.Statuses, "Actions": queue.Actions,
		"Next": nextURL, "Here": r.URL.RequestURI(),
	}})
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
	h.render(w, r, "item", http.StatusOK, page{Title: fmt.Sprintf("Queue row #%d", id), Nav: "queue", Data: map[string]any{
		"Item": it, "History": history, "Context": c,
		"Actionable": it.Status == queue.StatusPending || it.Status == queue.StatusFailed,
	}})
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
