package api

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"tiersync/internal/apperr"
	"tiersync/internal/membership"
)

// Webhooks configures the CRM webhook endpoints.
type Webhooks struct {
	// Commerce7 sends one Basic auth pair; without it configured its webhooks are refused.
	Commerce7User, Commerce7Password string
	// Commerce7EchoUser is the webhook "user" of our own API writes, which are ignored.
	Commerce7EchoUser string
	// ShopifySecret signs Shopify webhooks (HMAC-SHA256); without it they are refused.
	ShopifySecret string
	// Commerce7Customer reads a customer from Commerce7, for an order whose payload names
	// a customer tiersync does not know without its email. nil: such orders fail (502).
	Commerce7Customer func(ctx context.Context, clientID, tenant, customerID string) (CRMCustomer, error)
}

// CRMCustomer is what a webhook needs of a CRM customer.
type CRMCustomer struct{ Email, FirstName, LastName string }

func readBody(r *http.Request) ([]byte, error) {
	raw, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, err
	}
	if err != nil {
		return nil, apperr.BadRequestf("read body: %v", err)
	}
	return raw, nil
}

func equalStrings(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func webhookAnswer(w http.ResponseWriter, status string) {
	writeJSON(w, http.StatusOK, map[string]string{"status": status})
}

// c7Webhook is Commerce7's webhook body: {object, action, payload, tenantId, user}.
type c7Webhook struct {
	Object   string          `json:"object"`
	Action   string          `json:"action"`
	Payload  json.RawMessage `json:"payload"`
	TenantID string          `json:"tenantId"`
	User     json.RawMessage `json:"user"`
}

type c7Order struct {
	ID            string          `json:"id"`
	CustomerID    string          `json:"customerId"`
	Total         json.RawMessage `json:"total"`
	OrderPaidDate *string         `json:"orderPaidDate"`
	UpdatedAt     string          `json:"updatedAt"`
	Customer      *struct {
		Email     string `json:"email"`
		FirstName string `json:"firstName"`
		LastName  string `json:"lastName"`
		Emails    []struct {
			Email string `json:"email"`
		} `json:"emails"`
	} `json:"customer"`
}

// commerce7Webhook is POST /webhooks/commerce7. Commerce7 signs nothing: the Basic auth
// pair it was configured with is the proof. Orders are deduplicated on id + action +
// updatedAt (Commerce7 has no event id).
func (s *Server) commerce7Webhook(w http.ResponseWriter, r *http.Request) {
	cfg := s.opts.Webhooks
	user, pass, ok := r.BasicAuth()
	if cfg.Commerce7User == "" || !ok || !equalStrings(user, cfg.Commerce7User) || !equalStrings(pass, cfg.Commerce7Password) {
		w.Header().Set("WWW-Authenticate", `Basic realm="tiersync webhooks"`)
		writeError(w, http.StatusUnauthorized, "missing or wrong Basic auth for Commerce7 webhooks")
		return
	}
	raw, err := readBody(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	var hook c7Webhook
	if err := json.Unmarshal(raw, &hook); err != nil {
		fail(w, r, apperr.BadRequestf("malformed JSON: %v", err))
		return
	}
	if hook.TenantID == "" {
		fail(w, r, apperr.BadRequestf("tenantId is required"))
		return
	}
	client, err := s.opts.Store.ClientByTenant(r.Context(), membership.CRMCommerce7, hook.TenantID)
	if err != nil {
		fail(w, r, err)
		return
	}
	if hook.Object != "Order" {
		webhookAnswer(w, membership.WebhookIgnored)
		return
	}
	var echo string
	if json.Unmarshal(hook.User, &echo) == nil && echo != "" && cfg.Commerce7EchoUser != "" && echo == cfg.Commerce7EchoUser {
		webhookAnswer(w, membership.WebhookIgnored) // our own write, echoed back
		return
	}
	order, err := parseC7Order(hook.Payload)
	if err != nil {
		fail(w, r, err)
		return
	}
	ev := membership.OrderEvent{ClientID: client.ID, Provider: membership.CRMCommerce7, Topic: "Order/" + hook.Action,
		ExternalID: order.CRMOrderID + ":" + hook.Action + ":" + order.updatedAt, Payload: raw, Order: order.Order}
	res, err := s.opts.Store.ApplyOrder(r.Context(), ev)
	if errors.Is(err, membership.ErrNeedCustomer) {
		if cfg.Commerce7Customer == nil {
			writeError(w, http.StatusBadGateway, "the order's customer is unknown and its email cannot be read from Commerce7")
			return
		}
		c, lookupErr := cfg.Commerce7Customer(r.Context(), client.ID, client.Tenant, order.CustomerCRMID)
		if lookupErr != nil {
			s.log.Warn("commerce7 customer lookup", "customer_id", order.CustomerCRMID, "error", lookupErr.Error())
			writeError(w, http.StatusBadGateway, "reading the order's customer from Commerce7 failed; retry later")
			return
		}
		ev.Order.Email, ev.Order.FirstName, ev.Order.LastName = c.Email, c.FirstName, c.LastName
		res, err = s.opts.Store.ApplyOrder(r.Context(), ev)
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	webhookAnswer(w, res.Status)
}

type parsedC7Order struct {
	membership.Order
	updatedAt string
}

func parseC7Order(payload json.RawMessage) (parsedC7Order, error) {
	if len(payload) == 0 || string(payload) == "null" {
		return parsedC7Order{}, apperr.BadRequestf("payload is required")
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var p c7Order
	if err := dec.Decode(&p); err != nil {
		return parsedC7Order{}, apperr.BadRequestf("payload: %v", err)
	}
	if p.ID == "" {
		return parsedC7Order{}, apperr.BadRequestf("payload.id is required")
	}
	if len(p.Total) == 0 || string(p.Total) == "null" {
		return parsedC7Order{}, apperr.BadRequestf("payload.total is required")
	}
	// Commerce7 sends money as a JSON integer of cents: not a string, not a fraction.
	total, err := strconv.ParseInt(string(p.Total), 10, 64)
	if err != nil || total < 0 {
		return parsedC7Order{}, apperr.BadRequestf("payload.total %s is not a non-negative integer number of cents", p.Total)
	}
	o := parsedC7Order{Order: membership.Order{CRMOrderID: p.ID, CustomerCRMID: p.CustomerID, TotalCents: total}, updatedAt: p.UpdatedAt}
	if p.OrderPaidDate != nil && *p.OrderPaidDate != "" {
		t, err := time.Parse(time.RFC3339, *p.OrderPaidDate)
		if err != nil {
			return parsedC7Order{}, apperr.BadRequestf("payload.orderPaidDate %q is not an RFC 3339 timestamp", *p.OrderPaidDate)
		}
		o.PaidAt = &t
	}
	if c := p.Customer; c != nil {
		o.Email, o.FirstName, o.LastName = c.Email, c.FirstName, c.LastName
		if o.Email == "" && len(c.Emails) > 0 {
			o.Email = c.Emails[0].Email
		}
	}
	return o, nil
}

// shopifyOrder is the REST order JSON of Shopify's orders/* webhooks.
type shopifyOrder struct {
	ID              *json.Number `json:"id"`
	Email           string       `json:"email"`
	TotalPrice      *string      `json:"total_price"`
	Currency        string       `json:"currency"`
	FinancialStatus string       `json:"financial_status"`
	ProcessedAt     string       `json:"processed_at"`
	Customer        *struct {
		ID                json.Number `json:"id"`
		AdminGraphQLAPIID string      `json:"admin_graphql_api_id"`
		Email             string      `json:"email"`
		FirstName         string      `json:"first_name"`
		LastName          string      `json:"last_name"`
	} `json:"customer"`
}

// shopifyWebhook is POST /webhooks/shopify: the HMAC-SHA256 of the raw body with the app's
// secret proves it; the event id dedupes it.
func (s *Server) shopifyWebhook(w http.ResponseWriter, r *http.Request) {
	secret := s.opts.Webhooks.ShopifySecret
	raw, err := readBody(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	given, decodeErr := base64.StdEncoding.DecodeString(r.Header.Get("X-Shopify-Hmac-Sha256"))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(raw)
	if secret == "" || decodeErr != nil || len(given) == 0 || !hmac.Equal(mac.Sum(nil), given) {
		writeError(w, http.StatusUnauthorized, "missing or wrong X-Shopify-Hmac-Sha256")
		return
	}
	shop := r.Header.Get("X-Shopify-Shop-Domain")
	if shop == "" {
		fail(w, r, apperr.BadRequestf("X-Shopify-Shop-Domain is required"))
		return
	}
	client, err := s.opts.Store.ClientByTenant(r.Context(), membership.CRMShopify, shop)
	if err != nil {
		fail(w, r, err)
		return
	}
	topic := r.Header.Get("X-Shopify-Topic")
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
	order, err := parseShopifyOrder(raw, topic)
	if err != nil {
		fail(w, r, err)
		return
	}
	res, err := s.opts.Store.ApplyOrder(r.Context(), membership.OrderEvent{ClientID: client.ID, Provider: membership.CRMShopify,
		ExternalID: eventID, Topic: topic, Payload: raw, Order: order})
	if errors.Is(err, membership.ErrNeedCustomer) {
		err = apperr.BadRequestf("the order has a customer id but no email, and the customer is unknown")
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	webhookAnswer(w, res.Status)
}

func parseShopifyOrder(raw []byte, topic string) (membership.Order, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var p shopifyOrder
	if err := dec.Decode(&p); err != nil {
		return membership.Order{}, apperr.BadRequestf("malformed JSON: %v", err)
	}
	if p.ID == nil || p.ID.String() == "" {
		return membership.Order{}, apperr.BadRequestf("id is required")
	}
	if p.TotalPrice == nil {
		return membership.Order{}, apperr.BadRequestf("total_price is required")
	}
	total, err := membership.ParseDecimalCents(*p.TotalPrice)
	if err != nil {
		return membership.Order{}, apperr.BadRequestf("total_price: %v", err)
	}
	o := membership.Order{CRMOrderID: p.ID.String(), Email: p.Email, TotalCents: total, Currency: p.Currency}
	if c := p.Customer; c != nil {
		o.CustomerCRMID = c.AdminGraphQLAPIID
		if o.CustomerCRMID == "" && c.ID != "" {
			// The GraphQL id, as the Shopify provider stores it.
			o.CustomerCRMID = fmt.Sprintf("gid://shopify/Customer/%s", c.ID)
		}
		if c.Email != "" {
			o.Email = c.Email
		}
		o.FirstName, o.LastName = c.FirstName, c.LastName
	}
	if topic == "orders/paid" || p.FinancialStatus == "paid" {
		paid := time.Now().UTC()
		if t, err := time.Parse(time.RFC3339, strings.TrimSpace(p.ProcessedAt)); err == nil {
			paid = t
		}
		o.PaidAt = &paid
	}
	return o, nil
}
