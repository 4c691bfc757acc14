package api

import (
	"context"
	"html/template"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/apperr"
	"tiersync/internal/membership"
	"tiersync/internal/shopifyapp"
)

// The deployment's Shopify app: the install redirect and its callback (no API token: a
// merchant's browser comes here from Shopify; the callback proves itself with Shopify's
// hmac and our signed state), and webhook registration on demand.

// shopifyInstall is GET /shopify/install?shop=…: a 302 to the shop's authorize page.
func (s *Server) shopifyInstall(w http.ResponseWriter, r *http.Request) {
	if s.opts.Shopify == nil {
		fail(w, r, apperr.NotFoundf("this deployment keeps no Shopify credentials"))
		return
	}
	to, err := s.opts.Shopify.InstallURL(r.URL.Query().Get("shop"), s.opts.PublicURL)
	if err != nil {
		fail(w, r, err)
		return
	}
	// The target is Shopify's authorize page of a validated *.myshopify.com shop (or the
	// configured SHOPIFY_API_URL): never a place the query names.
	http.Redirect(w, r, to, http.StatusFound)
}

var installedPage = template.Must(template.New("installed").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tiersync is connected</title></head>
<body><h1>tiersync is connected to {{.Shop}}</h1>
<p>Client <code>{{.ClientID}}</code>{{if .Created}} was made for this shop{{end}}. {{.Webhooks}}</p></body></html>
`))

// registerWait bounds the webhook subscription the install's callback makes before it
// answers the merchant.
const registerWait = 5 * time.Second

// shopifyCallback is GET /shopify/callback: checks Shopify's answer, exchanges the code
// for expiring offline tokens, stores them (making the shop's client, or linking the one
// made beforehand), and subscribes the shop's webhooks.
func (s *Server) shopifyCallback(w http.ResponseWriter, r *http.Request) {
	if s.opts.Shopify == nil {
		fail(w, r, apperr.NotFoundf("this deployment keeps no Shopify credentials"))
		return
	}
	ctx := r.Context()
	shop, code, err := s.opts.Shopify.Callback(r.URL.Query())
	if err != nil {
		fail(w, r, err)
		return
	}
	tok, err := s.opts.Shopify.Exchange(ctx, shop, code)
	if err != nil {
		s.log.Warn("shopify install: code exchange failed", "shop", shop, "error", err.Error())
		writeError(w, http.StatusBadGateway, "Shopify did not take the install's code: start the install again ("+err.Error()+")")
		return
	}
	clientID, _, err := s.opts.Shopify.ShopClient(ctx, shop)
	if err != nil {
		fail(w, r, err)
		return
	}
	created := clientID == ""
	if created {
		c, err := s.opts.Store.CreateClient(ctx, membership.NewClient{Name: shop, CRMType: membership.CRMShopify, Tenant: shop,
			Connect: func(ctx context.Context, tx pgx.Tx, id string) error {
				return s.opts.Shopify.CreateInstalled(ctx, tx, id, shop, tok)
			}})
		if err != nil {
			fail(w, r, err)
			return
		}
		clientID = c.ID
	} else if err := s.opts.Shopify.Installed(ctx, clientID, tok); err != nil {
		fail(w, r, err)
		return
	}
	s.log.Info("shopify app installed", "shop", shop, "client_id", clientID, "client_created", created)
	// The webhooks are the install's second half; a failure here is said, and
	// POST /api/clients/{id}/shopify/webhooks finishes it.
	// Bounded: the merchant's browser waits on this page, and the client's bucket may be
	// paused for a while yet (a row held before the reinstall, coming back after it).
	note := "Its order and uninstall webhooks are subscribed."
	rctx, cancel := context.WithTimeout(ctx, registerWait)
	defer cancel()
	if _, err := s.opts.Shopify.RegisterWebhooks(rctx, clientID, s.opts.PublicURL); err != nil {
		s.log.Warn("shopify install: webhook registration failed", "shop", shop, "client_id", clientID, "error", err.Error())
		note = "Its webhooks could not be subscribed yet (" + err.Error() + "): POST /api/clients/" + clientID + "/shopify/webhooks retries."
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = installedPage.Execute(w, map[string]any{"Shop": shop, "ClientID": clientID, "Created": created, "Webhooks": note})
}

// registerShopifyWebhooks is POST /api/clients/{client_id}/shopify/webhooks.
func (s *Server) registerShopifyWebhooks(w http.ResponseWriter, r *http.Request) {
	c, err := s.opts.Store.GetClient(r.Context(), r.PathValue("client_id"))
	if err != nil {
		fail(w, r, err)
		return
	}
	if c.CRMType != membership.CRMShopify || s.opts.Shopify == nil {
		fail(w, r, apperr.Invalidf("client %s is not a Shopify client", c.ID))
		return
	}
	created, err := s.opts.Shopify.RegisterWebhooks(r.Context(), c.ID, s.opts.PublicURL)
	if err != nil {
		if apperr.KindOf(err) == apperr.Internal {
			writeError(w, http.StatusBadGateway, err.Error())
			return
		}
		fail(w, r, err)
		return
	}
	if created == nil {
		created = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"client_id": c.ID, "topics": shopifyapp.Topics(), "created": created})
}
