package api

import (
	"net/http"
	"sort"

	"tiersync/internal/membership"
)

// updateTier is PATCH /api/clients/{client_id}/tiers/{tier_id}: the fields sent change,
// the others stay; the tier as it would be is validated as a new one (strict JSON: an
// unknown field is a 400).
func (s *Server) updateTier(w http.ResponseWriter, r *http.Request) {
	var u membership.TierUpdate
	if err := decodeJSON(r, &u); err != nil {
		fail(w, r, err)
		return
	}
	t, err := s.opts.Store.UpdateTier(r.Context(), r.PathValue("client_id"), r.PathValue("tier_id"), u)
	if err != nil {
		fail(w, r, err)
		return
	}
	s.log.Info("tier updated", "client_id", t.ClientID, "tier_id", t.ID, "fields", changedTierFields(u), "request_id", requestID(r.Context()))
	writeJSON(w, http.StatusOK, t)
}

// changedTierFields names the fields a PATCH sent, for the log (values may be long).
func changedTierFields(u membership.TierUpdate) []string {
	sent := map[string]bool{"name": u.Name != nil, "rank": u.Rank != nil, "duration_months": u.DurationMonths != nil,
		"min_purchase_cents": u.MinPurchaseCents != nil, "min_ltv_cents": u.MinLTVCents != nil,
		"c7_club_id": u.C7ClubID != nil, "c7_delivery_method": u.C7DeliveryMethod != nil,
		"c7_pickup_location_id": u.C7PickupLocationID != nil, "shopify_tag": u.ShopifyTag != nil}
	var names []string
	for k, v := range sent {
		if v {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	return names
}
