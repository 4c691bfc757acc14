package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"tiersync/internal/apperr"
	"tiersync/internal/crm/commerce7"
	"tiersync/internal/crm/shopify"
	"tiersync/internal/membership"
)

// Webhooks configures the CRM webhook endpoints.
type Webhooks struct {
	// Commerce7User and Commerce7Password are the global Basic auth pair (deprecated): it
	// authenticates only the webhooks of clients made before per-client credentials, until
	// theirs are rotated; unset (either half empty), those clients' webhooks are refused.
	Commerce7User, Commerce7Password string
	// Commerce7EchoUser is the webhook "user" of our own API writes, which are ignored.
	Commerce7EchoUser string
	// Commerce7Customers reads a customer from Commerce7, for an order whose payload
	// names a customer tiersync does not know without its email (a *commerce7.Client).
	// nil: such orders fail (502).
	Commerce7Customers membership.CustomerSource
}

// credentialsMatch compares a Basic auth pair with the configured one. Each side is hashed
// first: subtle.ConstantTimeCompare returns at once when the lengths differ, so comparing
// the raw strings would tell a caller the password's length. Both halves are always
// compared, and an empty password never matches, even if one was configured.
func credentialsMatch(user, pass, wantUser, wantPass string) bool {
	if wantUser == "" || wantPass == "" || pass == "" {
		return false
	}
	u, wu := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(wantUser))
	p, wp := sha256.Sum256([]byte(pass)), sha256.Sum256([]byte(wantPass))
	return subtle.ConstantTimeCompare(u[:], wu[:])&subtle.ConstantTimeCompare(p[:], wp[:]) == 1
}

func webhookAnswer(w http.ResponseWriter, status string) {
	writeJSON(w, http.StatusOK, map[string]string{"status": status})
}

// commerce7Webhook is POST /webhooks/commerce7. Commerce7 signs nothing: the Basic auth
// pair it was configured with is the proof, and it must be the pair of the client whose
// tenant the body names (commerce7Authorized), so one winery's pair cannot post for
// another. Orders are deduplicated on id + action + updatedAt (Commerce7 has no event id).
func (s *Server) commerce7Webhook(w http.ResponseWriter, r *http.Request) {
	cfg := s.opts.Webhooks
	user, pass, ok := r.BasicAuth()
	if !ok {
		refuseCommerce7(w, r, nil)
		return
	}
	raw, err := readJSONBody(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	hook, err := commerce7.ParseWebhook(raw)
	if err != nil {
		fail(w, r, err)
		return
	}
	client, err := s.opts.Store.ClientByTenant(r.Context(), membership.CRMCommerce7, hook.TenantID)
	if err != nil {
		fail(w, r, err)
		return
	}
	if ok, err := s.commerce7Authorized(r.Context(), client, user, pass); err != nil || !ok {
		refuseCommerce7(w, r, err)
		return
	}
	if hook.Object == commerce7.ObjectClubMembership {
		s.commerce7Membership(w, r, hook, raw, client)
		return
	}
	order, ok, err := hook.Order(cfg.Commerce7EchoUser)
	if err != nil {
		fail(w, r, err)
		return
	}
	if !ok {
		webhookAnswer(w, membership.WebhookIgnored) // not an order, or our own write echoed back
		return
	}
	// Refunds, cancellations and deletions lower lifetime value and change no tier
	// (membership.ApplyOrder); a walk-in sale naming nobody is ignored.
	ev := membership.OrderEvent{ClientID: client.ID, Provider: membership.CRMCommerce7, Topic: order.Topic(),
		ExternalID: order.EventID(), Payload: raw, Order: order.Order,
		Refund: order.Refund, RefundOf: order.RefundOf, Void: order.Void}
	// An order naming a customer we don't know, without its email, is applied once the
	// customer is read from Commerce7 (membership asks the source).
	res, err := s.opts.Store.ApplyOrderWithLookup(r.Context(), ev, client.Tenant, cfg.Commerce7Customers)
	if !s.commerce7LookupFailed(w, r, err, order.CustomerCRMID) {
		webhookAnswer(w, res.Status)
	}
}

// commerce7Membership applies a Club Membership webhook: a membership created or
// cancelled in Commerce7 makes or ends our enrollment (membership.ApplyCRMMembership).
func (s *Server) commerce7Membership(w http.ResponseWriter, r *http.Request, hook commerce7.Webhook, raw []byte, client membership.Client) {
	cfg := s.opts.Webhooks
	m, ok, err := hook.Membership(cfg.Commerce7EchoUser)
	if err != nil {
		fail(w, r, err)
		return
	}
	if !ok {
		webhookAnswer(w, membership.WebhookIgnored) // our own write echoed back
		return
	}
	ev := membership.MembershipEvent{ClientID: client.ID, ExternalID: m.EventID(), Topic: m.Topic(), Payload: raw,
		Membership: membership.CRMMembership{ID: m.ID, CustomerCRMID: m.CustomerCRMID, ClubID: m.ClubID,
			Cancelled: m.Cancelled(time.Now()), SignupDate: m.SignupDate, Email: m.Email, FirstName: m.FirstName, LastName: m.LastName}}
	res, err := s.opts.Store.ApplyCRMMembershipWithLookup(r.Context(), ev, client.Tenant, cfg.Commerce7Customers)
	if !s.commerce7LookupFailed(w, r, err, m.CustomerCRMID) {
		webhookAnswer(w, res.Status)
	}
}

// commerce7LookupFailed answers err, if any, and reports whether it did. An unknown
// customer whose email Commerce7 cannot give us now is a 502: Commerce7 delivers the
// webhook again later, and nothing was written.
func (s *Server) commerce7LookupFailed(w http.ResponseWriter, r *http.Request, err error, customerID string) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, membership.ErrNeedCustomer): // no source to ask
		writeError(w, http.StatusBadGateway, "the customer is unknown and its email cannot be read from Commerce7")
	case errors.Is(err, membership.ErrCustomerLookup):
		s.log.Warn("commerce7 customer lookup", "customer_id", customerID, "error", err.Error())
		writeError(w, http.StatusBadGateway, "reading the customer from Commerce7 failed; retry later")
	default:
		fail(w, r, err)
	}
	return true
}

// shopifySecret returns the secret that signs the shop's webhooks: each app signs with its
// own client secret (shopifyapp.Store.WebhookSecret says which). A shop we do not know is
// NotFound (404, as DESIGN §4 says: there is no secret to check its signature with, and a
// shop's myshopify.com domain is no secret); a deployment that keeps no Shopify credentials
// answers "", and every signature fails.
func (s *Server) shopifySecret(ctx context.Context, shop string) (string, error) {
	if s.opts.Shopify == nil {
		return "", nil
	}
	_, secret, err := s.opts.Shopify.WebhookSecret(ctx, shop)
	return secret, err
}

// shopifySigned reports whether header is the base64 HMAC-SHA256 of raw with secret.
func shopifySigned(secret string, raw []byte, header string) bool {
	given, err := base64.StdEncoding.DecodeString(header)
	if secret == "" || err != nil || len(given) == 0 {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(raw)
	return hmac.Equal(mac.Sum(nil), given)
}

// shopifyWebhook is POST /webhooks/shopify. The HMAC-SHA256 of the raw body, with the
// secret of the shop the header names, proves the body and nothing else: the shop, topic
// and event id headers are not signed. So what the order does is read from the body
// (financial_status, not the topic), a replay of one order version under a new event id
// is a duplicate (OrderEvent.OrderVersion), and an order id already seen under another
// shop is refused (membership's claimOrder): with one secret for every shop, the same
// signed body sent with another X-Shopify-Shop-Domain verifies.
func (s *Server) shopifyWebhook(w http.ResponseWriter, r *http.Request) {
	raw, err := readBody(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	shop := strings.TrimSpace(r.Header.Get("X-Shopify-Shop-Domain"))
	if shop == "" {
		fail(w, r, apperr.BadRequestf("X-Shopify-Shop-Domain is required"))
		return
	}
	secret, err := s.shopifySecret(r.Context(), shop)
	if err != nil {
		fail(w, r, err)
		return
	}
	if !shopifySigned(secret, raw, r.Header.Get("X-Shopify-Hmac-Sha256")) {
		writeError(w, http.StatusUnauthorized, "missing or wrong X-Shopify-Hmac-Sha256")
		return
	}
	if err := checkJSONText(raw); err != nil {
		fail(w, r, err)
		return
	}
	client, err := s.opts.Store.ClientByTenant(r.Context(), membership.CRMShopify, shop)
	if err != nil {
		fail(w, r, err)
		return
	}
	topic := r.Header.Get("X-Shopify-Topic")
	if topic == shopify.TopicAppUninstalled {
		s.shopifyUninstalled(w, r, client, shop, raw)
		return
	}
	if topic == shopify.TopicCustomerDataRequest || topic == shopify.TopicCustomerRedact || topic == shopify.TopicShopRedact {
		s.shopifyPrivacy(w, r, client, shop, topic, raw)
		return
	}
	if topic != "orders/paid" && topic != "orders/create" {
		webhookAnswer(w, membership.WebhookIgnored)
		return
	}
	eventID := r.Header.Get("X-Shopify-Event-Id")
	if eventID == "" {
		eventID = r.Header.Get("X-Shopify-Webhook-Id")
	}
	if eventID == "" {
		fail(w, r, apperr.BadRequestf("X-Shopify-Event-Id (or X-Shopify-Webhook-Id) is required"))
		return
	}
	order, err := shopify.ParseOrderWebhook(raw)
	if err != nil {
		fail(w, r, err)
		return
	}
	res, err := s.opts.Store.ApplyOrder(r.Context(), membership.OrderEvent{ClientID: client.ID, Provider: membership.CRMShopify,
		ExternalID: eventID, OrderVersion: order.Version, Topic: topic, Payload: raw, Order: order.Order})
	if errors.Is(err, membership.ErrNeedCustomer) {
		err = apperr.BadRequestf("the order has a customer id but no email, and the customer is unknown")
	}
	if apperr.KindOf(err) == apperr.Conflict {
		s.log.Warn("shopify webhook refused: the order belongs to another shop (a replayed body?)",
			"shop", shop, "order_id", order.CRMOrderID, "event_id", eventID)
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	webhookAnswer(w, res.Status)
}

// shopifyUninstalled is app/uninstalled: the shop removed the app, its tokens are dead.
// The connection is marked uninstalled and its tokens deleted; the client's rows stay
// pending without spending attempts until a reinstall. The shop is the signed body's, and
// must be the header's: a signed body replayed under another shop's header uninstalls
// nothing.
func (s *Server) shopifyUninstalled(w http.ResponseWriter, r *http.Request, client membership.Client, shop string, raw []byte) {
	u, err := shopify.ParseUninstalled(raw)
	if err != nil {
		fail(w, r, err)
		return
	}
	if !strings.EqualFold(u.ShopDomain, shop) {
		fail(w, r, apperr.BadRequestf("the body's myshopify_domain %q is not X-Shopify-Shop-Domain %q", u.ShopDomain, shop))
		return
	}
	if err := s.opts.Shopify.Uninstalled(r.Context(), client.ID); err != nil {
		fail(w, r, err)
		return
	}
	s.log.Warn("shopify app uninstalled: the client's rows wait for a reinstall", "shop", shop, "client_id", client.ID)
	webhookAnswer(w, membership.WebhookAccepted)
}
