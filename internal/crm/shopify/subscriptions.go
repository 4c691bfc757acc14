package shopify

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"tiersync/internal/crm"
)

// Webhook subscriptions: the topics tiersync receives at POST /webhooks/shopify, made
// through the Admin API for each shop (webhookSubscriptionCreate, its uri field since
// 2025-10). The privacy topics are not among them: Shopify takes those only from the
// app's configuration (shopify.app.toml compliance_topics, or the Partner Dashboard).

const (
	listWebhooksQuery = `query Webhooks($topics: [WebhookSubscriptionTopic!], $after: String) {
  webhookSubscriptions(first: 50, after: $after, topics: $topics) {
    nodes { id topic uri }
    pageInfo { hasNextPage endCursor }
  }
}`
	// A connection 2 plus 50 nodes of 1 (uri and topic are scalars).
	listWebhooksCost = 52
	// listWebhooksPages bounds the listing: 1 000 subscriptions of the asked topics for one
	// app in one shop is far beyond what tiersync makes (one per topic).
	listWebhooksPages = 20

	createWebhookMutation = `mutation CreateWebhook($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}`
)

// WebhookSubscription is one of the app's subscriptions in a shop.
type WebhookSubscription struct {
	ID    string // a GID
	Topic string // the enum: ORDERS_PAID
	URI   string
}

// PrivacyTopics are the mandatory compliance topics, which only the app's configuration
// subscribes to.
var PrivacyTopics = []string{"customers/data_request", "customers/redact", "shop/redact"}

var topicName = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`)

// TopicEnum is a topic as the Admin API's WebhookSubscriptionTopic names it: orders/paid
// (the X-Shopify-Topic form) becomes ORDERS_PAID; an enum stays as it is.
func TopicEnum(topic string) (string, error) {
	t := strings.TrimSpace(topic)
	for _, p := range PrivacyTopics {
		if strings.EqualFold(t, p) || strings.EqualFold(t, strings.ReplaceAll(p, "/", "_")) {
			return "", fmt.Errorf("%s is a privacy topic: Shopify takes it only from the app's configuration (compliance_topics in shopify.app.toml, or the Partner Dashboard), never through the Admin API", p)
		}
	}
	e := strings.ToUpper(strings.ReplaceAll(t, "/", "_"))
	if !topicName.MatchString(e) {
		return "", fmt.Errorf("%.64q is not a webhook topic", topic)
	}
	return e, nil
}

// WebhookSubscriptions lists the app's subscriptions in the shop to the given topics
// (enums; none: every topic), as many pages as there are.
func (p *Provider) WebhookSubscriptions(ctx context.Context, topics []string) ([]WebhookSubscription, error) {
	vars := map[string]any{"topics": topics, "after": nil}
	if len(topics) == 0 {
		vars["topics"] = nil
	}
	var out []WebhookSubscription
	for range listWebhooksPages {
		var data struct {
			WebhookSubscriptions struct {
				Nodes    []WebhookSubscription
				PageInfo struct {
					HasNextPage bool
					EndCursor   string
				}
			}
		}
		if err := p.graphql(ctx, "list webhooks", listWebhooksCost, listWebhooksQuery, vars, &data); err != nil {
			return nil, err
		}
		out = append(out, data.WebhookSubscriptions.Nodes...)
		page := data.WebhookSubscriptions.PageInfo
		if !page.HasNextPage || page.EndCursor == "" {
			return out, nil
		}
		vars["after"] = page.EndCursor
	}
	return nil, permanent("list webhooks", fmt.Sprintf("more than %d subscriptions to these topics; remove the stale ones in Shopify", listWebhooksPages*50))
}

// EnsureWebhooks makes sure the shop sends each topic to callbackURL: it reads the app's
// subscriptions to those topics first and creates only the missing ones, so running it
// again creates nothing (one subscription per topic and URL, as Shopify itself allows).
// created lists the topics (as given) it subscribed now. A subscription of the topic to
// another URL is left alone (a staging host, the app's previous address: deleting it is
// the operator's call) and reported through Config.OnNote. topics take either form,
// orders/paid or ORDERS_PAID; a privacy topic is refused (see TopicEnum). Shopify demands
// an https URL; the URL is not checked for it here, Shopify's answer decides.
func (p *Provider) EnsureWebhooks(ctx context.Context, callbackURL string, topics []string) (created []string, err error) {
	const op = "ensure webhooks"
	u, perr := url.Parse(callbackURL)
	if perr != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, permanent(op, fmt.Sprintf("callback URL %.200q is not an absolute http(s) URL", callbackURL))
	}
	enums := make([]string, 0, len(topics))
	asked := map[string]string{} // enum → the topic as given
	for _, t := range topics {
		e, terr := TopicEnum(t)
		if terr != nil {
			return nil, permanent(op, terr.Error())
		}
		if _, dup := asked[e]; !dup {
			asked[e] = t
			enums = append(enums, e)
		}
	}
	if len(enums) == 0 {
		return nil, nil
	}
	existing, err := p.WebhookSubscriptions(ctx, enums)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	elsewhere := map[string][]string{}
	for _, s := range existing {
		if s.URI == callbackURL {
			have[s.Topic] = true
		} else {
			elsewhere[s.Topic] = append(elsewhere[s.Topic], s.URI)
		}
	}
	for _, e := range enums {
		if others := elsewhere[e]; len(others) > 0 {
			p.c.note(p.shop, op, fmt.Sprintf("%s is also delivered to %s: left as it is", e, strings.Join(others, ", ")))
		}
		if have[e] {
			continue
		}
		made, err := p.createWebhook(ctx, e, callbackURL)
		if err != nil {
			return created, err
		}
		if made {
			created = append(created, asked[e])
		}
	}
	return created, nil
}

// createWebhook subscribes the topic; false when Shopify says it exists already (another
// replica made it between the listing and now).
func (p *Provider) createWebhook(ctx context.Context, topic, uri string) (bool, error) {
	var data struct {
		WebhookSubscriptionCreate struct {
			WebhookSubscription *WebhookSubscription
			UserErrors          []userError
		}
	}
	vars := map[string]any{"topic": topic, "webhookSubscription": map[string]any{"uri": uri, "format": "JSON"}}
	if err := p.graphql(ctx, "create webhook", mutationCost, createWebhookMutation, vars, &data); err != nil {
		return false, err
	}
	res := data.WebhookSubscriptionCreate
	if len(res.UserErrors) == 0 && res.WebhookSubscription != nil {
		if err := crm.CheckID("shopify", "create webhook", res.WebhookSubscription.ID); err != nil {
			return false, err
		}
		return true, nil
	}
	for _, e := range res.UserErrors {
		if strings.Contains(strings.ToLower(e.Message), "already been taken") {
			return false, nil
		}
	}
	return false, permanent("create webhook", topic+": "+userErrorsText(res.UserErrors))
}
