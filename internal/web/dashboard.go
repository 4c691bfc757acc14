package web

// The dashboard: the queue at a glance, each client's backlog, recent failures and the
// scheduled jobs.

import (
	"context"
	"net/http"
	"time"

	"tiersync/internal/membership"
	"tiersync/internal/queue"
)

type clientBacklog struct {
	ID, Name, CRMType                string
	Pending, Processing, Failed, Due int64
}

type failedRow struct {
	ID        int64
	Action    string
	Client    string
	Error     string
	UpdatedAt time.Time
}

func (h *handler) dashboard(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	stats, err := h.opts.Engine.Stats(ctx)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// Clients come from their owner (membership), by name; the queue's counts and
	// failures are laid onto them by client id.
	clients, err := h.opts.Store.ClientsByName(ctx)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	backlog, err := h.backlog(ctx, clients)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	failed, err := h.failedRecently(ctx, clients)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	jobs, err := h.opts.Scheduler.Jobs(ctx)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, "dashboard", http.StatusOK, page{Title: "Dashboard", Nav: "dashboard", Refresh: max(1, int(h.opts.RefreshEvery.Seconds())), Data: map[string]any{
		"Stats": stats, "Statuses": queue.Statuses, "Actions": queue.Actions, "Backlog": backlog, "Failed": failed, "Jobs": jobs,
	}})
}

// backlog is every client's open rows, in the clients' order; a client without open
// rows shows zeros.
func (h *handler) backlog(ctx context.Context, clients []membership.Client) ([]clientBacklog, error) {
	byClient, err := queue.BacklogByClient(ctx, h.opts.Pool)
	if err != nil {
		return nil, err
	}
	out := make([]clientBacklog, 0, len(clients))
	for _, cl := range clients {
		n := byClient[cl.ID]
		out = append(out, clientBacklog{ID: cl.ID, Name: cl.Name, CRMType: cl.CRMType,
			Pending: n.Pending, Due: n.Due, Processing: n.Processing, Failed: n.Failed})
	}
	return out, nil
}

// failedRecently is the 20 newest rows that failed in the last day, with their client's
// name.
func (h *handler) failedRecently(ctx context.Context, clients []membership.Client) ([]failedRow, error) {
	names := make(map[string]string, len(clients))
	for _, c := range clients {
		names[c.ID] = c.Name
	}
	since := time.Now().Add(-24 * time.Hour)
	rows, err := queue.NewestFailed(ctx, h.opts.Pool, &since, 20)
	if err != nil {
		return nil, err
	}
	failed := make([]failedRow, 0, len(rows))
	for _, f := range rows {
		failed = append(failed, failedRow{ID: f.ID, Action: f.ActionType, Client: names[f.ClientID], Error: f.Error, UpdatedAt: f.UpdatedAt})
	}
	return failed, nil
}
