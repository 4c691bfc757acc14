package web

// The clients page: every client with its tiers.

import (
	"net/http"

	"tiersync/internal/membership"
)

type clientTiers struct {
	membership.Client
	Tiers []membership.Tier
}

func (h *handler) clients(w http.ResponseWriter, r *http.Request) {
	list, _, err := h.opts.Store.ListClients(r.Context(), membership.Page{Limit: membership.MaxPageLimit})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]clientTiers, 0, len(list))
	for _, c := range list {
		tiers, _, err := h.opts.Store.ListTiers(r.Context(), c.ID, membership.Page{Limit: membership.MaxPageLimit})
		if err != nil {
			h.fail(w, r, err)
			return
		}
		out = append(out, clientTiers{Client: c, Tiers: tiers})
	}
	h.render(w, r, "clients", http.StatusOK, page{Title: "Clients and tiers", Nav: "clients", Data: map[string]any{"Clients": out}})
}
