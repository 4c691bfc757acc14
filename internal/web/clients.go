package web

// The clients page: every client with its tiers, how it connects to its CRM (a Shopify
// connection's way, state, error and token expiry; a Commerce7 client's webhook auth), and
// a button that checks the connection with one cheap read at the CRM.

import (
	"context"
	"log/slog"
	"net/http"

	"tiersync/internal/crm"
	"tiersync/internal/membership"
	"tiersync/internal/shopifyapp"
)

// Connections lists the Shopify connections' states (shopifyapp.Store).
type Connections interface {
	Statuses(ctx context.Context) ([]shopifyapp.Status, error)
}

type clientTiers struct {
	membership.Client
	Tiers []membership.Tier
	// Connection is a Shopify client's connection; nil for Commerce7.
	Connection *shopifyapp.Status
}

// checkResult is what the check button answered, shown on the client's card.
type checkResult struct {
	ClientID string
	OK       bool
	Error    string
}

func (h *handler) clients(w http.ResponseWriter, r *http.Request) {
	h.renderClients(w, r, nil)
}

func (h *handler) renderClients(w http.ResponseWriter, r *http.Request, check *checkResult) {
	list, _, err := h.opts.Store.ListClients(r.Context(), membership.Page{Limit: membership.MaxPageLimit})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	conns := map[string]*shopifyapp.Status{}
	if h.opts.Connections != nil {
		states, err := h.opts.Connections.Statuses(r.Context())
		if err != nil {
			h.fail(w, r, err)
			return
		}
		for i := range states {
			conns[states[i].ClientID] = &states[i]
		}
	}
	out := make([]clientTiers, 0, len(list))
	for _, c := range list {
		tiers, _, err := h.opts.Store.ListTiers(r.Context(), c.ID, membership.Page{Limit: membership.MaxPageLimit})
		if err != nil {
			h.fail(w, r, err)
			return
		}
		out = append(out, clientTiers{Client: c, Tiers: tiers, Connection: conns[c.ID]})
	}
	h.render(w, r, "clients", http.StatusOK, page{Title: "Clients and tiers", Nav: "clients",
		Data: map[string]any{"Clients": out, "Check": check, "CanCheck": h.opts.Check != nil}})
}

// checkClient is the check button: one cheap authenticated read at the client's CRM
// (app.Core.CheckClient). The answer is shown on the page it was asked from, not through
// a redirect: a flash message is one of a fixed set of texts (flash.go), and the CRM's
// answer is not. Asking again is harmless (a read), so a reload that posts again is too.
func (h *handler) checkClient(w http.ResponseWriter, r *http.Request) {
	c, err := h.opts.Store.GetClient(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	res := &checkResult{ClientID: c.ID, OK: true}
	if h.opts.Check == nil {
		res.OK, res.Error = false, "this server makes no CRM calls (no CRM clients configured)"
	} else if err := h.opts.Check(r.Context(), c); err != nil {
		res.OK, res.Error = false, crm.CleanText(err.Error(), crm.MaxMessage)
	}
	h.opts.Logger.Info("admin: client connection checked", slog.String("client_id", c.ID), slog.Bool("ok", res.OK))
	h.renderClients(w, r, res)
}
