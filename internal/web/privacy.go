package web

// The privacy page: Shopify's privacy requests, newest first, a data request with the
// customer's data we hold (what the merchant must send the customer), a redaction with
// what it changed.

import (
	"net/http"

	"tiersync/internal/membership"
)

// privacyPageSize is how many requests the page shows; GET /api/privacy/requests pages
// through all of them.
const privacyPageSize = 100

func (h *handler) privacyPage(w http.ResponseWriter, r *http.Request) {
	items, next, err := h.opts.Privacy.List(r.Context(), membership.Page{Limit: privacyPageSize})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, "privacy", http.StatusOK, page{Title: "Privacy requests", Nav: "privacy",
		Data: map[string]any{"Requests": items, "More": next != ""}})
}
