package api

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"tiersync/internal/apperr"
	"tiersync/internal/crm/shopify"
	"tiersync/internal/membership"
	"tiersync/internal/privacy"
)

// shopifyPrivacy answers Shopify's mandatory privacy topics, already verified (the
// shop's HMAC) and the client found. The topic header is not signed, so the body must
// have that topic's shape (shopify.ParsePrivacy): a signed data request replayed as
// customers/redact is a 400 that writes nothing. The body's shop must be the header's
// too, or a body signed for one shop could act on another that shares the app's secret.
func (s *Server) shopifyPrivacy(w http.ResponseWriter, r *http.Request, client membership.Client, shop, topic string, raw []byte) {
	req, err := shopify.ParsePrivacy(topic, raw)
	if err != nil {
		fail(w, r, err)
		return
	}
	if !strings.EqualFold(req.ShopDomain, shop) {
		fail(w, r, apperr.BadRequestf("the body's shop_domain %q is not X-Shopify-Shop-Domain %q", req.ShopDomain, shop))
		return
	}
	if s.opts.Privacy == nil {
		// Not a 200: Shopify delivers a failed webhook again, so the request is not lost
		// while a replica runs without the privacy service.
		writeError(w, http.StatusServiceUnavailable, "privacy requests are not handled by this server")
		return
	}
	eventID := r.Header.Get("X-Shopify-Event-Id")
	if eventID == "" {
		eventID = r.Header.Get("X-Shopify-Webhook-Id")
	}
	eventID = strings.TrimSpace(eventID)
	if len(eventID) > 255 || !utf8.ValidString(eventID) {
		fail(w, r, apperr.BadRequestf("X-Shopify-Event-Id is not an event id"))
		return
	}
	status, err := s.opts.Privacy.Receive(r.Context(), privacy.Incoming{ClientID: client.ID, EventID: eventID, Request: req})
	if err != nil {
		fail(w, r, err)
		return
	}
	// The log says what happened, never to whom: no email, phone or customer id.
	s.log.Info("shopify privacy request", "topic", topic, "shop", shop, "status", status)
	webhookAnswer(w, status)
}

// listPrivacyRequests is GET /api/privacy/requests: every privacy request, newest first,
// a data request with the customer's data we hold now.
func (s *Server) listPrivacyRequests(w http.ResponseWriter, r *http.Request) {
	limit, cursor, err := pageParams(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	items, next, err := s.opts.Privacy.List(r.Context(), membership.Page{Limit: limit, Cursor: cursor})
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newList(items, next))
}
