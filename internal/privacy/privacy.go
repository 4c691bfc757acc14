// Package privacy answers Shopify's mandatory privacy webhooks (issue 19):
// customers/data_request is recorded and listed with the customer's data we hold;
// customers/redact removes a customer's personal data from every table; shop/redact
// deletes a shop's client and everything of it.
//
// It owns privacy_requests and orchestrates the other owners, each through its own SQL
// (membership: customers, webhook events, the client; queue: its rows' error texts and
// rows; shopifyapp: the connection), in ONE transaction: a redaction commits whole or not
// at all, and what it records keeps no email or phone.
package privacy

import (
	"context"
	_ "embed" // the statements in sql/
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/apperr"
	"tiersync/internal/crm/shopify"
	"tiersync/internal/db"
	"tiersync/internal/membership"
	"tiersync/internal/queue"
	"tiersync/internal/shopifyapp"
)

var (
	//go:embed sql/insert.sql
	sqlInsert string
	//go:embed sql/set_result.sql
	sqlSetResult string
	//go:embed sql/redact_data_requests.sql
	sqlRedactDataRequests string
	//go:embed sql/delete_client.sql
	sqlDeleteClient string
	//go:embed sql/list.sql
	sqlList string
)

// Answers to a privacy webhook (the same words as the order webhooks').
const (
	Accepted  = membership.WebhookAccepted
	Duplicate = membership.WebhookDuplicate
)

// cancelReason goes in the error_message of the queue rows a redaction cancels.
const cancelReason = "cancelled: the customer's data was redacted (customers/redact)"

// Service handles and lists privacy requests.
type Service struct {
	pool  *pgxpool.Pool
	store *membership.Store
	// shops deletes a Shopify client's connection; nil when the deployment keeps no
	// Shopify credentials (then there is none to delete).
	shops *shopifyapp.Store
}

// New makes a Service.
func New(pool *pgxpool.Pool, store *membership.Store, shops *shopifyapp.Store) *Service {
	return &Service{pool: pool, store: store, shops: shops}
}

// Incoming is a verified privacy webhook of one client.
type Incoming struct {
	ClientID string
	// EventID is X-Shopify-Event-Id (or -Webhook-Id), "" when absent: a redelivery of
	// the same event is answered Duplicate.
	EventID string
	Request shopify.PrivacyRequest
}

// Receive applies a privacy webhook and answers Accepted, or Duplicate for one already
// applied.
func (s *Service) Receive(ctx context.Context, in Incoming) (string, error) {
	status := Accepted
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		switch in.Request.Topic {
		case shopify.TopicCustomerDataRequest:
			status, err = s.dataRequest(ctx, tx, in)
		case shopify.TopicCustomerRedact:
			status, err = s.redactCustomer(ctx, tx, in)
		case shopify.TopicShopRedact:
			err = s.redactShop(ctx, tx, in)
		default:
			err = apperr.BadRequestf("%.64q is not a privacy topic", in.Request.Topic)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	return status, nil
}

// row is a privacy_requests row to insert.
type row struct {
	clientID, topic, shopDomain, shopID string
	eventID, shopifyCustomerID          string
	customerID, email, phone            string
	orderIDs                            []string
	dataRequestID                       string
}

// insert records a request; ok is false for a redelivery.
func insert(ctx context.Context, tx pgx.Tx, r row) (id int64, ok bool, err error) {
	err = tx.QueryRow(ctx, sqlInsert, pgx.StrictNamedArgs{
		"client_id": orNil(r.clientID), "topic": r.topic, "shop_domain": r.shopDomain, "shop_id": r.shopID,
		"event_id": orNil(r.eventID), "shopify_customer_id": orNil(r.shopifyCustomerID), "customer_id": orNil(r.customerID),
		"email": orNil(r.email), "phone": orNil(r.phone), "order_ids": nonNil(r.orderIDs), "data_request_id": orNil(r.dataRequestID),
	}).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("record the %s request: %w", r.topic, err)
	}
	return id, true, nil
}

// dataRequest records a customers/data_request with the customer it names; the data
// itself is read when the request is listed, so no copy of it is kept here.
func (s *Service) dataRequest(ctx context.Context, tx pgx.Tx, in Incoming) (string, error) {
	req := in.Request
	customerID, _, err := s.store.FindPrivacyCustomer(ctx, tx, in.ClientID, req.CustomerID, req.Email)
	if err != nil {
		return "", err
	}
	_, ok, err := insert(ctx, tx, row{clientID: in.ClientID, topic: req.Topic, shopDomain: req.ShopDomain, shopID: req.ShopID,
		eventID: in.EventID, shopifyCustomerID: req.CustomerID, customerID: customerID, email: req.Email, phone: req.Phone,
		orderIDs: req.OrderIDs, dataRequestID: req.DataRequestID})
	if err != nil || !ok {
		return Duplicate, err
	}
	return Accepted, nil
}

// redactCustomer is customers/redact: the request is recorded without its email and
// phone, then every owner removes the customer's personal data.
func (s *Service) redactCustomer(ctx context.Context, tx pgx.Tx, in Incoming) (string, error) {
	req := in.Request
	customerID, _, err := s.store.FindPrivacyCustomer(ctx, tx, in.ClientID, req.CustomerID, req.Email)
	if err != nil {
		return "", err
	}
	id, ok, err := insert(ctx, tx, row{clientID: in.ClientID, topic: req.Topic, shopDomain: req.ShopDomain, shopID: req.ShopID,
		eventID: in.EventID, shopifyCustomerID: req.CustomerID, customerID: customerID, orderIDs: req.OrderIDs})
	if err != nil || !ok {
		return Duplicate, err
	}
	red, err := s.store.RedactCustomer(ctx, tx, membership.CustomerRedaction{ClientID: in.ClientID, CustomerID: customerID,
		CRMIDs: crmIDs(req.CustomerID), OrderIDs: req.OrderIDs, Email: req.Email, Phone: req.Phone})
	if err != nil {
		return "", err
	}
	result := map[string]int64{"customers": red.Customers, "webhook_events": red.WebhookEvents}
	if customerID != "" {
		keys := []string{membership.QueueOrderKey(customerID)}
		if result["queue_cancelled"], err = queue.CancelOrderKeys(ctx, tx, keys, cancelReason); err != nil {
			return "", err
		}
		if result["queue_errors_scrubbed"], result["attempt_errors_scrubbed"], err = queue.ScrubErrors(ctx, tx, keys, red.Needles); err != nil {
			return "", err
		}
	}
	var emails, phones []string
	if req.Email != "" {
		emails = append(emails, strings.ToLower(req.Email))
	}
	if req.Phone != "" {
		phones = append(phones, req.Phone)
	}
	tag, err := tx.Exec(ctx, sqlRedactDataRequests, pgx.StrictNamedArgs{"client_id": in.ClientID, "customer_id": orNil(customerID),
		"shopify_customer_id": orNil(req.CustomerID), "emails": nonNil(emails), "phones": nonNil(phones)})
	if err != nil {
		return "", fmt.Errorf("redact earlier data requests: %w", err)
	}
	result["privacy_requests"] = tag.RowsAffected()
	return Accepted, setResult(ctx, tx, id, result)
}

// redactShop is shop/redact: every owner deletes its rows of the client, the client goes
// last, and the request is recorded without a client (it is gone) or any personal data.
func (s *Service) redactShop(ctx context.Context, tx pgx.Tx, in Incoming) error {
	req := in.Request
	tag, err := tx.Exec(ctx, sqlDeleteClient, pgx.StrictNamedArgs{"client_id": in.ClientID})
	if err != nil {
		return fmt.Errorf("delete the privacy requests of client %s: %w", in.ClientID, err)
	}
	result := map[string]int64{"privacy_requests": tag.RowsAffected()}
	if s.shops != nil {
		if err := s.shops.Forget(ctx, tx, in.ClientID); err != nil {
			return err
		}
	}
	if result["queue_rows"], err = queue.ForgetRateKey(ctx, tx, membership.RateKey(in.ClientID)); err != nil {
		return err
	}
	deleted, err := s.store.DeleteClient(ctx, tx, in.ClientID)
	if err != nil {
		return err
	}
	if deleted {
		result["clients"] = 1
	}
	id, _, err := insert(ctx, tx, row{topic: req.Topic, shopDomain: req.ShopDomain, shopID: req.ShopID, eventID: in.EventID})
	if err != nil {
		return err
	}
	return setResult(ctx, tx, id, result)
}

func setResult(ctx context.Context, tx pgx.Tx, id int64, result map[string]int64) error {
	b, err := json.Marshal(result)
	if err != nil {
		return fmt.Errorf("privacy request %d: result: %w", id, err)
	}
	if _, err := tx.Exec(ctx, sqlSetResult, pgx.StrictNamedArgs{"id": id, "result": b}); err != nil {
		return fmt.Errorf("privacy request %d: store the result: %w", id, err)
	}
	return nil
}

// crmIDs are the ways a CRM payload names the customer: the GID, and for Shopify's REST
// payloads (customer.id) its numeric tail.
func crmIDs(gid string) []string {
	if gid == "" {
		return nil
	}
	out := []string{gid}
	if i := strings.LastIndexByte(gid, '/'); i >= 0 && i+1 < len(gid) {
		out = append(out, gid[i+1:])
	}
	return out
}

// Request is a privacy request as the API and the admin page show it. Data is what we
// hold of the customer a data request names, read now from its owners; nil for the other
// topics, for a customer we hold nothing of, and once the customer was redacted.
type Request struct {
	ID                int64                    `json:"id"`
	ClientID          *string                  `json:"client_id"`
	Topic             string                   `json:"topic"`
	ShopDomain        string                   `json:"shop_domain"`
	ShopID            string                   `json:"shop_id"`
	EventID           *string                  `json:"event_id"`
	ReceivedAt        time.Time                `json:"received_at"`
	ShopifyCustomerID *string                  `json:"shopify_customer_id"`
	CustomerID        *string                  `json:"customer_id"`
	Email             *string                  `json:"email"`
	Phone             *string                  `json:"phone"`
	OrderIDs          []string                 `json:"order_ids"`
	DataRequestID     *string                  `json:"data_request_id"`
	Result            json.RawMessage          `json:"result"`
	RedactedAt        *time.Time               `json:"redacted_at"`
	Data              *membership.CustomerData `json:"data"`
}

// List returns one page of requests, newest first, and the next page's cursor ("" at
// the end).
func (s *Service) List(ctx context.Context, p membership.Page) ([]Request, string, error) {
	var before *int64
	if p.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(p.Cursor)
		n, convErr := strconv.ParseInt(string(b), 10, 64)
		if err != nil || convErr != nil || n <= 0 {
			return nil, "", apperr.BadRequestf("cursor %.40q is not one this API returned", p.Cursor)
		}
		before = &n
	}
	rows, err := s.pool.Query(ctx, sqlList, pgx.StrictNamedArgs{"before": before, "limit": p.Limit + 1})
	if err != nil {
		return nil, "", fmt.Errorf("list privacy requests: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Request, error) {
		var r Request
		err := row.Scan(&r.ID, &r.ClientID, &r.Topic, &r.ShopDomain, &r.ShopID, &r.EventID, &r.ReceivedAt, &r.ShopifyCustomerID,
			&r.CustomerID, &r.Email, &r.Phone, &r.OrderIDs, &r.DataRequestID, &r.Result, &r.RedactedAt)
		r.ReceivedAt = r.ReceivedAt.UTC()
		if r.RedactedAt != nil {
			t := r.RedactedAt.UTC()
			r.RedactedAt = &t
		}
		return r, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list privacy requests: %w", err)
	}
	next := ""
	if len(out) > p.Limit {
		out = out[:p.Limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(out[len(out)-1].ID, 10)))
	}
	for i := range out {
		r := &out[i]
		if r.Topic != shopify.TopicCustomerDataRequest || r.RedactedAt != nil || r.CustomerID == nil || r.ClientID == nil {
			continue
		}
		d, found, err := s.store.CustomerData(ctx, s.pool, *r.ClientID, *r.CustomerID)
		if err != nil {
			return nil, "", err
		}
		if found {
			r.Data = &d
		}
	}
	return out, next, nil
}

func orNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}
