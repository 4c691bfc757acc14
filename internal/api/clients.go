package api

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/apperr"
	"tiersync/internal/membership"
	"tiersync/internal/shopifyapp"
)

type createClientBody struct {
	Name                 *string `json:"name"`
	CRMType              *string `json:"crm_type"`
	Tenant               *string `json:"tenant"`
	RateLimitPerMinute   *int    `json:"rate_limit_per_minute"`
	Currency             *string `json:"currency"`
	DriftPolicy          *string `json:"drift_policy"`
	ShopifyAuth          *string `json:"shopify_auth"`
	ShopifyClientID      *string `json:"shopify_client_id"`
	ShopifyClientSecret  *string `json:"shopify_client_secret"`
	ShopifyAccessToken   *string `json:"shopify_access_token"`
	ShopifyWebhookSecret *string `json:"shopify_webhook_secret"`
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
	in := membership.NewClient{Name: *b.Name, CRMType: *b.CRMType, Tenant: *b.Tenant, RateLimitPerMinute: b.RateLimitPerMinute,
		Currency: b.Currency, DriftPolicy: b.DriftPolicy}
	conn := shopifyapp.NewConnection{Auth: b.ShopifyAuth, ClientID: b.ShopifyClientID, ClientSecret: b.ShopifyClientSecret,
		AccessToken: b.ShopifyAccessToken, WebhookSecret: b.ShopifyWebhookSecret}
	switch {
	case *b.CRMType == membership.CRMShopify && s.opts.Shopify == nil:
		fail(w, r, apperr.Invalidf("this deployment cannot store Shopify credentials (no TIERSYNC_SECRET_KEY)"))
		return
	case *b.CRMType == membership.CRMShopify:
		if err := conn.Validate(s.opts.Shopify.App()); err != nil {
			fail(w, r, err)
			return
		}
		in.Connect = func(ctx context.Context, tx pgx.Tx, clientID string) error {
			return s.opts.Shopify.Create(ctx, tx, clientID, strings.ToLower(strings.TrimSpace(*b.Tenant)), conn)
		}
	case conn.Given():
		// Refused by membership's validation with the fields' names.
		in.Connect = func(context.Context, pgx.Tx, string) error { return nil }
	}
	c, err := s.opts.Store.CreateClient(r.Context(), in)
	if err != nil {
		fail(w, r, err)
		return
	}
	// Connecting ends with the webhooks: a Shopify client that can get a token now (not an
	// oauth one waiting for its install, whose callback subscribes them) is subscribed at
	// once. A failure does not undo the client: the answer says why, and
	// POST /api/clients/{id}/shopify/webhooks tries again.
	var hooks *webhookRegistration
	if c.CRMType == membership.CRMShopify && *conn.Auth != shopifyapp.AuthOAuth && s.opts.PublicURL != "" {
		hooks = &webhookRegistration{}
		if hooks.Created, err = s.opts.Shopify.RegisterWebhooks(r.Context(), c.ID, s.opts.PublicURL); err != nil {
			hooks.Created, hooks.Error = nil, err.Error()
			s.log.Warn("shopify webhooks not subscribed at creation", "client_id", c.ID, "error", err.Error())
		}
	}
	answers, err := s.withConnections(r.Context(), []membership.ClientWithCredentials{c})
	if err != nil {
		fail(w, r, err)
		return
	}
	if hooks != nil && hooks.Error == "" && hooks.Created == nil {
		hooks.Created = []string{} // subscribed already (another client of the shop before)
	}
	answers[0].Webhooks = hooks
	// A Commerce7 client's answer carries its webhook credentials: the only time they are
	// shown (GET never does).
	writeJSON(w, http.StatusCreated, answers[0])
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
	clients := make([]membership.ClientWithCredentials, 0, len(items))
	for _, c := range items {
		clients = append(clients, membership.ClientWithCredentials{Client: c})
	}
	// Each Shopify client with its connection's state (null for Commerce7).
	answers, err := s.withConnections(r.Context(), clients)
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newList(answers, next))
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
