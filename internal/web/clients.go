package web

// The clients page: every client with its tiers, how it connects to its CRM (a Shopify
// connection's way, state, error and token expiry; a Commerce7 client's webhook auth), a
// button that checks the connection with one cheap read at the CRM, its newest
// reconciliation with buttons that start one (reconcile.go), and forms that edit a
// client's name and rate limit and a tier (membership.UpdateClient, UpdateTier: the code
// behind PATCH /api/clients/{id} and …/tiers/{tier_id}).

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"tiersync/internal/apperr"

	"tiersync/internal/crm"
	"tiersync/internal/membership"
	"tiersync/internal/reconcile"
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
	// Reconcile is the client's newest reconciliation; nil when it has none (or the
	// process has no reconciler).
	Reconcile *reconcile.Latest
}

// checkResult is what the check button answered, shown on the client's card.
type checkResult struct {
	ClientID string
	OK       bool
	Error    string
}

func (h *handler) clients(w http.ResponseWriter, r *http.Request) {
	h.renderClients(w, r, http.StatusOK, nil, "")
}

func (h *handler) renderClients(w http.ResponseWriter, r *http.Request, status int, check *checkResult, errText string) {
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
	var latest map[string]reconcile.Latest
	if h.opts.Reconciler != nil {
		if latest, err = h.opts.Reconciler.LatestRuns(r.Context(), ""); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	out := make([]clientTiers, 0, len(list))
	for _, c := range list {
		tiers, _, err := h.opts.Store.ListTiers(r.Context(), c.ID, membership.Page{Limit: membership.MaxPageLimit})
		if err != nil {
			h.fail(w, r, err)
			return
		}
		ct := clientTiers{Client: c, Tiers: tiers, Connection: conns[c.ID]}
		if l, ok := latest[c.ID]; ok {
			ct.Reconcile = &l
		}
		out = append(out, ct)
	}
	h.render(w, r, "clients", status, page{Title: "Clients and tiers", Nav: "clients", Error: errText,
		Data: map[string]any{"Clients": out, "Check": check, "CanCheck": h.opts.Check != nil,
			"CanReconcile": h.opts.Reconciler != nil, "Deliveries": []string{membership.DeliveryShip, membership.DeliveryPickup}}})
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
	h.renderClients(w, r, http.StatusOK, res, "")
}

// refused shows the clients page again with membership's reason for refusing a change
// (the operator's own input, escaped by the template), or fails the request.
func (h *handler) refused(w http.ResponseWriter, r *http.Request, err error) {
	switch apperr.KindOf(err) {
	case apperr.BadRequest, apperr.Invalid:
		h.renderClients(w, r, http.StatusUnprocessableEntity, nil, err.Error())
	case apperr.Conflict:
		h.renderClients(w, r, http.StatusConflict, nil, err.Error())
	default:
		h.fail(w, r, err)
	}
}

// updateClient saves a client's name and rate limit; a value left as it was is not sent,
// so saving an unchanged form changes nothing.
func (h *handler) updateClient(w http.ResponseWriter, r *http.Request) {
	c, err := h.opts.Store.GetClient(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var in membership.ClientUpdate
	if name := r.PostFormValue("name"); name != c.Name {
		in.Name = &name
	}
	if v := strings.TrimSpace(r.PostFormValue("rate_limit_per_minute")); v != strconv.Itoa(c.RateLimitPerMinute) {
		n, err := strconv.Atoi(v)
		if err != nil {
			h.refused(w, r, apperr.Invalidf("rate limit %q is not a whole number of requests a minute", clip(v)))
			return
		}
		in.RateLimitPerMinute = &n
	}
	if cur, sent := r.PostForm["currency"]; sent && !strings.EqualFold(strings.TrimSpace(cur[0]), c.Currency) {
		code := cur[0]
		in.Currency = &code
	}
	if in.Name == nil && in.RateLimitPerMinute == nil && in.Currency == nil {
		back(w, r, "/admin/clients#client-"+c.ID, flashClientSaved)
		return
	}
	if _, err := h.opts.Store.UpdateClient(r.Context(), c.ID, in); err != nil {
		h.refused(w, r, err)
		return
	}
	h.opts.Logger.Info("admin: client updated", slog.String("client_id", c.ID),
		slog.Bool("name", in.Name != nil), slog.Bool("rate_limit_per_minute", in.RateLimitPerMinute != nil),
		slog.Bool("currency", in.Currency != nil))
	back(w, r, "/admin/clients#client-"+c.ID, flashClientSaved)
}

// updateTier saves a tier's fields. Only the fields that differ from the stored tier are
// sent: UpdateTier checks a club id it is sent as a new one (UUID-shaped), and a tier
// made before that rule must stay editable in its other fields.
func (h *handler) updateTier(w http.ResponseWriter, r *http.Request) {
	clientID, tierID := r.PathValue("id"), r.PathValue("tier")
	t, err := h.tier(r.Context(), clientID, tierID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var u membership.TierUpdate
	text := func(field string, cur *string, dst **string) {
		v, sent := r.PostForm[field]
		if !sent {
			return
		}
		s := strings.TrimSpace(v[0])
		if (cur == nil && s == "") || (cur != nil && *cur == s) {
			return
		}
		*dst = &s
	}
	num := func(field string, cur int, dst **int) error {
		v := strings.TrimSpace(r.PostFormValue(field))
		if v == strconv.Itoa(cur) {
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return apperr.Invalidf("%s %q is not a whole number", field, clip(v))
		}
		*dst = &n
		return nil
	}
	amount := func(field string, cur int64, dst **int64) error {
		c, err := parseMoney(field, r.PostFormValue(field))
		if err != nil || c == cur {
			return err
		}
		*dst = &c
		return nil
	}
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, apperr.BadRequestf("the form could not be read: %v", err))
		return
	}
	name := t.Name
	text("name", &name, &u.Name)
	text("c7_club_id", t.C7ClubID, &u.C7ClubID)
	text("c7_delivery_method", t.C7DeliveryMethod, &u.C7DeliveryMethod)
	text("c7_pickup_location_id", t.C7PickupLocationID, &u.C7PickupLocationID)
	text("shopify_tag", t.ShopifyTag, &u.ShopifyTag)
	for _, err := range []error{num("rank", t.Rank, &u.Rank), num("duration_months", t.DurationMonths, &u.DurationMonths),
		amount("min_purchase", t.MinPurchaseCents, &u.MinPurchaseCents), amount("min_ltv", t.MinLTVCents, &u.MinLTVCents)} {
		if err != nil {
			h.refused(w, r, err)
			return
		}
	}
	if u == (membership.TierUpdate{}) {
		back(w, r, "/admin/clients#tier-"+t.ID, flashTierSaved)
		return
	}
	if _, err := h.opts.Store.UpdateTier(r.Context(), t.ClientID, t.ID, u); err != nil {
		h.refused(w, r, err)
		return
	}
	h.opts.Logger.Info("admin: tier updated", slog.String("client_id", t.ClientID), slog.String("tier_id", t.ID))
	back(w, r, "/admin/clients#tier-"+t.ID, flashTierSaved)
}

// clientTiers is a client and all its tiers (a client has a handful).
func (h *handler) clientTiers(ctx context.Context, clientID string) (membership.Client, []membership.Tier, error) {
	c, err := h.opts.Store.GetClient(ctx, clientID)
	if err != nil {
		return membership.Client{}, nil, err
	}
	tiers, _, err := h.opts.Store.ListTiers(ctx, c.ID, membership.Page{Limit: membership.MaxPageLimit})
	if err != nil {
		return membership.Client{}, nil, err
	}
	return c, tiers, nil
}

// tier is one of a client's tiers as stored, from the client's list (a client has a
// handful).
func (h *handler) tier(ctx context.Context, clientID, tierID string) (membership.Tier, error) {
	c, tiers, err := h.clientTiers(ctx, clientID)
	if err != nil {
		return membership.Tier{}, err
	}
	for _, t := range tiers {
		if t.ID == tierID {
			return t, nil
		}
	}
	return membership.Tier{}, apperr.NotFoundf("tier %s of client %s not found", clip(tierID), c.ID)
}
