package shopifytest

import (
	"fmt"
	"net/url"
	"strconv"
)

// Subscription is a webhook subscription the app made through the Admin API (what
// webhookSubscriptions lists: the app's own, for this shop).
type Subscription struct {
	ID     string `json:"id"`
	Topic  string `json:"topic"` // the enum: ORDERS_PAID
	URI    string `json:"uri"`
	Format string `json:"format"` // JSON or XML
}

// topics are the WebhookSubscriptionTopic values the fake takes: those tiersync uses and a
// few others. The privacy topics (customers/data_request, customers/redact, shop/redact)
// are not among them: they are set in the app's configuration, never through the API.
var topics = map[string]bool{
	"ORDERS_PAID": true, "ORDERS_CREATE": true, "ORDERS_UPDATED": true, "ORDERS_CANCELLED": true,
	"APP_UNINSTALLED": true, "CUSTOMERS_CREATE": true, "CUSTOMERS_UPDATE": true, "CUSTOMERS_DELETE": true,
}

// Subscriptions returns the shop's webhook subscriptions, oldest first.
func (f *Fake) Subscriptions(shop string) []Subscription {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Subscription
	if s := f.shops[shop]; s != nil {
		for _, sub := range s.subscriptions {
			out = append(out, *sub)
		}
	}
	return out
}

// AddSubscription seeds a subscription (made earlier, by hand or by another version of the
// app) without the create mutation's checks.
func (f *Fake) AddSubscription(shop string, sub Subscription) Subscription {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.shops[shop]
	if s == nil {
		panic("shopifytest: unknown shop " + shop)
	}
	f.nextID++
	sub.ID = fmt.Sprintf("gid://shopify/WebhookSubscription/%d", f.nextID)
	if sub.Format == "" {
		sub.Format = "JSON"
	}
	s.subscriptions = append(s.subscriptions, &sub)
	return sub
}

// listSubscriptions is webhookSubscriptions(first:, after:, topics:); f.mu held. A node
// carries uri (2025-10 on) and the deprecated callbackUrl and endpoint it replaced.
func (f *Fake) listSubscriptions(s *shopState, only []string, first int, after string) map[string]any {
	want := map[string]bool{}
	for _, t := range only {
		want[t] = true
	}
	var found []*Subscription
	for _, sub := range s.subscriptions {
		if len(want) == 0 || want[sub.Topic] {
			found = append(found, sub)
		}
	}
	start, _ := strconv.Atoi(after)
	start = min(max(start, 0), len(found))
	end := min(start+first, len(found))
	nodes := []map[string]any{}
	for _, sub := range found[start:end] {
		nodes = append(nodes, map[string]any{"id": sub.ID, "topic": sub.Topic, "uri": sub.URI, "format": sub.Format,
			"callbackUrl": sub.URI, "endpoint": map[string]any{"__typename": "WebhookHttpEndpoint", "callbackUrl": sub.URI}})
	}
	return map[string]any{"nodes": nodes, "pageInfo": map[string]any{"hasNextPage": end < len(found), "endCursor": strconv.Itoa(end)}}
}

// createSubscription is webhookSubscriptionCreate(topic:, webhookSubscription: {uri |
// callbackUrl, format}); f.mu held. Shopify delivers only to an HTTPS address
// (Options.AllowHTTPWebhooks lets tests use http://127.0.0.1) and keeps one subscription
// per topic and address ("Address for this topic has already been taken").
func (f *Fake) createSubscription(s *shopState, topic string, in map[string]any) map[string]any {
	payload := map[string]any{"webhookSubscription": nil, "userErrors": []userError{}}
	uri, _ := in["uri"].(string)
	field := "uri"
	if uri == "" {
		uri, _ = in["callbackUrl"].(string) // deprecated since 2025-10, still taken
		field = "callbackUrl"
	}
	format, _ := in["format"].(string)
	if format == "" {
		format = "JSON"
	}
	u, err := url.Parse(uri)
	switch {
	case uri == "" || err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		payload["userErrors"] = uerr("Address is invalid", "webhookSubscription", field)
	case u.Scheme == "http" && !f.opts.AllowHTTPWebhooks:
		payload["userErrors"] = uerr("Address protocol http:// is not supported", "webhookSubscription", field)
	case format != "JSON" && format != "XML":
		payload["userErrors"] = uerr("Format is invalid", "webhookSubscription", "format")
	default:
		for _, sub := range s.subscriptions {
			if sub.Topic == topic && sub.URI == uri {
				payload["userErrors"] = uerr("Address for this topic has already been taken", "webhookSubscription", field)
				return payload
			}
		}
		f.nextID++
		sub := &Subscription{ID: fmt.Sprintf("gid://shopify/WebhookSubscription/%d", f.nextID), Topic: topic, URI: uri, Format: format}
		s.subscriptions = append(s.subscriptions, sub)
		payload["webhookSubscription"] = map[string]any{"id": sub.ID, "topic": sub.Topic, "uri": sub.URI, "format": sub.Format}
	}
	return payload
}
