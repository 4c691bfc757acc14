package api

import (
	"net/http"
	"slices"
	"strings"

	"tiersync/internal/apperr"
	"tiersync/internal/membership"
)

type createClientBody struct {
	Name               *string `json:"name"`
	CRMType            *string `json:"crm_type"`
	Tenant             *string `json:"tenant"`
	RateLimitPerMinute *int    `json:"rate_limit_per_minute"`
	ShopifyAccessToken *string `json:"shopify_access_token"`
}

func (s *Server) createClient(w http.ResponseWriter, r *http.Request) {
	var b createClientBody
	if err := decodeJSON(r, &b); err != nil {
		fail(w, r, err)
		return
	}
	if err := required(map[string]bool{"name": b.Name != nil, "crm_type": b.CRMType != nil, "tenant": b.Tenant != nil}); err != nil {
		fail(w, r, err)
		return
	}
	c, err := s.opts.Store.CreateClient(r.Context(), membership.NewClient{
		Name: *b.Name, CRMType: *b.CRMType, Tenant: *b.Tenant,
		RateLimitPerMinute: b.RateLimitPerMinute, ShopifyAccessToken: b.ShopifyAccessToken,
	})
	if err != nil {
		fail(w, r, err)
		return
	}
	// A Commerce7 client's answer carries its webhook credentials: the only time they are
	// shown (GET never does).
	writeJSON(w, http.StatusCreated, c)
}

// rotateWebhookCredentials is POST /api/clients/{client_id}/webhook-credentials: a new
// Commerce7 webhook pair, shown once in the answer; the old one stops working at once.
func (s *Server) rotateWebhookCredentials(w http.ResponseWriter, r *http.Request) {
	c, err := s.opts.Store.RotateWebhookCredentials(r.Context(), r.PathValue("client_id"))
	if err != nil {
		fail(w, r, err)
		return
	}
	// The operator's audit trail: who rotated is the API token's holder, when is the log's time.
	s.log.Info("commerce7 webhook credentials rotated", "client_id", c.ID, "tenant", c.Tenant, "webhook_user", c.User)
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) listClients(w http.ResponseWriter, r *http.Request) {
	limit, cursor, err := pageParams(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	items, next, err := s.opts.Store.ListClients(r.Context(), membership.Page{Limit: limit, Cursor: cursor})
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newList(items, next))
}

type createTierBody struct {
	Name             *string `json:"name"`
	Rank             *int    `json:"rank"`
	DurationMonths   *int    `json:"duration_months"`
	MinPurchaseCents *int64  `json:"min_purchase_cents"`
	MinLTVCents      *int64  `json:"min_ltv_cents"`
	C7ClubID         *string `json:"c7_club_id"`
	C7DeliveryMethod *string `json:"c7_delivery_method"`
	C7PickupLocation *string `json:"c7_pickup_location_id"`
	ShopifyTag       *string `json:"shopify_tag"`
}

func (s *Server) createTier(w http.ResponseWriter, r *http.Request) {
	var b createTierBody
	if err := decodeJSON(r, &b); err != nil {
		fail(w, r, err)
		return
	}
	if err := required(map[string]bool{"name": b.Name != nil, "rank": b.Rank != nil, "duration_months": b.DurationMonths != nil}); err != nil {
		fail(w, r, err)
		return
	}
	t, err := s.opts.Store.CreateTier(r.Context(), r.PathValue("client_id"), membership.NewTier{
		Name: *b.Name, Rank: *b.Rank, DurationMonths: *b.DurationMonths,
		MinPurchaseCents: b.MinPurchaseCents, MinLTVCents: b.MinLTVCents,
		C7ClubID: b.C7ClubID, C7DeliveryMethod: b.C7DeliveryMethod, C7PickupLocationID: b.C7PickupLocation, ShopifyTag: b.ShopifyTag,
	})
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, t)
}

func (s *Server) listTiers(w http.ResponseWriter, r *http.Request) {
	limit, cursor, err := pageParams(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	items, next, err := s.opts.Store.ListTiers(r.Context(), r.PathValue("client_id"), membership.Page{Limit: limit, Cursor: cursor})
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newList(items, next))
}

// required refuses a body that lacks a required field, naming the first missing one in a
// stable order.
func required(present map[string]bool) error {
	var missing []string
	for name, ok := range present {
		if !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return apperr.BadRequestf("missing required field(s): %s", strings.Join(missing, ", "))
}
