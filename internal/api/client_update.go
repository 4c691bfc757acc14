package api

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/apperr"
	"tiersync/internal/crm"
	"tiersync/internal/membership"
	"tiersync/internal/shopifyapp"
)

// PATCH /api/clients/{client_id} and POST /api/clients/{client_id}/check, and the
// connection every client answer carries.

// connection is a Shopify client's connection as the API shows it (never a secret): the
// way it is connected, its state and why, since when, and when its access token expires
// (null: a token that does not expire, or none held now).
type connection struct {
	Auth           string     `json:"shopify_auth"`
	State          string     `json:"state"`
	Error          *string    `json:"error"`
	Since          time.Time  `json:"since"`
	TokenExpiresAt *time.Time `json:"token_expires_at"`
}

// clientAnswer is a client as every answer shows it: Connection is null for Commerce7.
type clientAnswer struct {
	membership.ClientWithCredentials
	Connection *connection `json:"connection"`
	// Webhooks is what the subscription of a new Shopify client's webhooks did (only in
	// POST /api/clients's answer, when PUBLIC_URL is set and the client can get a token).
	Webhooks *webhookRegistration `json:"webhooks,omitempty"`
}

// webhookRegistration is the topics subscribed now, or why it failed (retry with
// POST /api/clients/{id}/shopify/webhooks).
type webhookRegistration struct {
	Created []string `json:"created"`
	Error   string   `json:"error,omitempty"`
}

// withConnections joins the clients' connection states (one query for the page).
func (s *Server) withConnections(ctx context.Context, clients []membership.ClientWithCredentials) ([]clientAnswer, error) {
	var ids []string
	for _, c := range clients {
		if c.CRMType == membership.CRMShopify {
			ids = append(ids, c.ID)
		}
	}
	byClient := map[string]*connection{}
	if len(ids) > 0 && s.opts.Shopify != nil {
		states, err := s.opts.Shopify.StatusesOf(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, st := range states {
			c := &connection{Auth: st.Auth, State: st.State, Since: st.Since, TokenExpiresAt: st.TokenExpiresAt}
			if st.Error != "" {
				c.Error = &st.Error
			}
			byClient[st.ClientID] = c
		}
	}
	out := make([]clientAnswer, 0, len(clients))
	for _, c := range clients {
		out = append(out, clientAnswer{ClientWithCredentials: c, Connection: byClient[c.ID]})
	}
	return out, nil
}

type updateClientBody struct {
	Name                     *string `json:"name"`
	RateLimitPerMinute       *int    `json:"rate_limit_per_minute"`
	Currency                 *string `json:"currency"`
	DriftPolicy              *string `json:"drift_policy"`
	RotateWebhookCredentials *bool   `json:"rotate_webhook_credentials"`
	ShopifyAuth              *string `json:"shopify_auth"`
	ShopifyClientID          *string `json:"shopify_client_id"`
	ShopifyClientSecret      *string `json:"shopify_client_secret"`
	ShopifyAccessToken       *string `json:"shopify_access_token"`
	ShopifyWebhookSecret     *string `json:"shopify_webhook_secret"`
}

// updateClient is PATCH /api/clients/{client_id}: name, rate limit (the queue's bucket
// follows in the same transaction) and credential rotation, all or nothing.
func (s *Server) updateClient(w http.ResponseWriter, r *http.Request) {
	var b updateClientBody
	if err := decodeJSON(r, &b); err != nil {
		fail(w, r, err)
		return
	}
	in := membership.ClientUpdate{Name: b.Name, RateLimitPerMinute: b.RateLimitPerMinute, Currency: b.Currency,
		DriftPolicy: b.DriftPolicy, RotateWebhookCredentials: b.RotateWebhookCredentials != nil && *b.RotateWebhookCredentials}
	conn := shopifyapp.NewConnection{Auth: b.ShopifyAuth, ClientID: b.ShopifyClientID, ClientSecret: b.ShopifyClientSecret,
		AccessToken: b.ShopifyAccessToken, WebhookSecret: b.ShopifyWebhookSecret}
	var rotated shopifyapp.Rotated
	if conn.Given() {
		in.Connect = func(ctx context.Context, tx pgx.Tx, c membership.Client) error {
			if s.opts.Shopify == nil {
				return apperr.Invalidf("this deployment cannot store Shopify credentials (no TIERSYNC_SECRET_KEY)")
			}
			var err error
			rotated, err = s.opts.Shopify.Rotate(ctx, tx, c.ID, conn)
			return err
		}
	}
	c, err := s.opts.Store.UpdateClient(r.Context(), r.PathValue("client_id"), in)
	if err != nil {
		fail(w, r, err)
		return
	}
	// The audit trail of every change: who is the API token's holder (the only caller the
	// API has), what is the fields' names, never their values.
	log := logger(r.Context()).With(slog.String("client_id", c.ID), slog.String("tenant", c.Tenant), slog.String("by", "api token"))
	var changed []string
	if b.Name != nil {
		changed = append(changed, "name")
	}
	if b.RateLimitPerMinute != nil {
		changed = append(changed, "rate_limit_per_minute")
	}
	if b.Currency != nil {
		changed = append(changed, "currency")
	}
	if b.DriftPolicy != nil {
		changed = append(changed, "drift_policy")
	}
	if len(changed) > 0 {
		log.Info("client updated", slog.String("fields", strings.Join(changed, ",")))
	}
	if c.WebhookCredentials != nil {
		log.Info("commerce7 webhook credentials rotated", slog.String("fields", "webhook_user,webhook_password"))
	}
	if rotated.Fields != nil {
		log.Info("shopify credentials rotated", slog.String("fields", strings.Join(rotated.Fields, ",")),
			slog.String("shopify_auth", rotated.Auth))
	}
	answers, err := s.withConnections(r.Context(), []membership.ClientWithCredentials{c})
	if err != nil {
		fail(w, r, err)
		return
	}
	// A new Commerce7 webhook pair is in this answer, and in no other.
	writeJSON(w, http.StatusOK, answers[0])
}

// checkClient is POST /api/clients/{client_id}/check: one cheap authenticated read at the
// client's CRM. Whatever the CRM says is the answer's "error", never a 5xx: the question
// is whether the credentials work, and "they don't" is a good answer to it.
func (s *Server) checkClient(w http.ResponseWriter, r *http.Request) {
	c, err := s.opts.Store.GetClient(r.Context(), r.PathValue("client_id"))
	if err != nil {
		fail(w, r, err)
		return
	}
	if s.opts.Check == nil {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "this server makes no CRM calls (no CRM clients configured)"})
		return
	}
	if err := s.opts.Check(r.Context(), c); err != nil {
		logger(r.Context()).Info("client check failed", slog.String("client_id", c.ID), slog.String("error", err.Error()))
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": crm.CleanText(err.Error(), crm.MaxMessage)})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}
