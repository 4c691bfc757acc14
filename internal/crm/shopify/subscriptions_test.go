package shopify_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"tiersync/internal/crm"
	"tiersync/internal/crm/shopify"
	"tiersync/internal/crm/shopify/shopifytest"
)

const hook = "https://tiersync.example/webhooks/shopify"

// TestEnsureWebhooks: subscriptions are read first and only the missing ones made, so a
// second run makes nothing; one to another address is left alone and noted; the fake's
// https rule and its switch for tests listening on http://127.0.0.1.
func TestEnsureWebhooks(t *testing.T) {
	type sub = shopifytest.Subscription
	cases := []struct {
		name        string
		opts        shopifytest.Options
		seed        []sub
		url         string
		topics      []string
		wantCreated []string
		wantSubs    int
		wantNote    string
		wantErr     string
	}{
		{name: "fresh shop", url: hook, topics: []string{"orders/paid", "orders/create", "app/uninstalled"},
			wantCreated: []string{"orders/paid", "orders/create", "app/uninstalled"}, wantSubs: 3},
		{name: "enum names and duplicates", url: hook, topics: []string{"ORDERS_PAID", "orders/paid"},
			wantCreated: []string{"ORDERS_PAID"}, wantSubs: 1},
		{name: "one exists", url: hook, topics: []string{"orders/paid", "app/uninstalled"},
			seed: []sub{{Topic: "ORDERS_PAID", URI: hook}}, wantCreated: []string{"app/uninstalled"}, wantSubs: 2},
		{name: "another address is left alone", url: hook, topics: []string{"orders/paid"},
			seed:        []sub{{Topic: "ORDERS_PAID", URI: "https://old.example/hooks"}},
			wantCreated: []string{"orders/paid"}, wantSubs: 2, wantNote: "ORDERS_PAID is also delivered to https://old.example/hooks"},
		{name: "many subscriptions: the listing pages", url: hook, topics: []string{"orders/paid"},
			seed: append(manySubs(70, "ORDERS_PAID"), sub{Topic: "ORDERS_PAID", URI: hook}), wantSubs: 71,
			wantNote: "https://other.example/69"},
		{name: "http refused by Shopify", url: "http://127.0.0.1:8080/webhooks/shopify", topics: []string{"orders/paid"},
			wantErr: "webhookSubscription.uri: Address protocol http:// is not supported"},
		{name: "http allowed by the fake's switch", opts: shopifytest.Options{AllowHTTPWebhooks: true},
			url: "http://127.0.0.1:8080/webhooks/shopify", topics: []string{"orders/paid"},
			wantCreated: []string{"orders/paid"}, wantSubs: 1},
		{name: "privacy topic", url: hook, topics: []string{"orders/paid", "customers/redact"},
			wantErr: "customers/redact is a privacy topic"},
		{name: "not a topic", url: hook, topics: []string{"orders paid"}, wantErr: "is not a webhook topic"},
		{name: "unknown topic", url: hook, topics: []string{"orders/teleported"},
			wantErr: "WebhookSubscriptionTopic! was provided invalid value"},
		{name: "relative URL", url: "/webhooks/shopify", topics: []string{"orders/paid"}, wantErr: "not an absolute http(s) URL"},
		{name: "no topics", url: hook},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := &heard{}
			fake, p, _ := setup(t, tc.opts, h.hook)
			for _, s := range tc.seed {
				fake.AddSubscription(shop, s)
			}
			ctx := context.Background()
			created, err := p.EnsureWebhooks(ctx, tc.url, tc.topics)
			if tc.wantErr != "" {
				wantErr(t, err, crm.Permanent, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(created) != fmt.Sprint(tc.wantCreated) {
				t.Fatalf("created %v, want %v", created, tc.wantCreated)
			}
			if got := fake.Subscriptions(shop); len(got) != tc.wantSubs {
				t.Fatalf("%d subscriptions, want %d: %+v", len(got), tc.wantSubs, got)
			}
			_, notes := h.get()
			if tc.wantNote == "" && len(notes) > 0 || tc.wantNote != "" && (len(notes) != 1 || !strings.Contains(notes[0], tc.wantNote)) {
				t.Fatalf("notes %q, want %q", notes, tc.wantNote)
			}
			// Idempotent: a second run creates nothing.
			before := len(fake.Requests())
			again, err := p.EnsureWebhooks(ctx, tc.url, tc.topics)
			if err != nil || len(again) != 0 || len(fake.Subscriptions(shop)) != tc.wantSubs {
				t.Fatalf("second run: created %v, %v, %d subscriptions", again, err, len(fake.Subscriptions(shop)))
			}
			for _, r := range fake.Requests()[before:] {
				if r.Operation != "webhookSubscriptions" {
					t.Fatalf("second run sent %s", r.Operation)
				}
			}
		})
	}
}

func manySubs(n int, topic string) []shopifytest.Subscription {
	var out []shopifytest.Subscription
	for i := range n {
		out = append(out, shopifytest.Subscription{Topic: topic, URI: fmt.Sprintf("https://other.example/%d", i)})
	}
	return out
}

// TestEnsureWebhooksAfterALostAnswer: the create was applied but its answer lost; the
// retry lists the subscription and creates no second one.
func TestEnsureWebhooksAfterALostAnswer(t *testing.T) {
	fake, p, _ := setup(t, shopifytest.Options{}, nil)
	fake.Inject(shopifytest.Fault{Operation: "webhookSubscriptionCreate", Kind: shopifytest.FaultLoseAnswer})
	if _, err := p.EnsureWebhooks(context.Background(), hook, []string{"orders/paid"}); err == nil {
		t.Fatal("lost answer: no error")
	}
	created, err := p.EnsureWebhooks(context.Background(), hook, []string{"orders/paid"})
	if err != nil || len(created) != 0 || len(fake.Subscriptions(shop)) != 1 {
		t.Fatalf("retry: %v %v %+v", created, err, fake.Subscriptions(shop))
	}
	subs, err := p.WebhookSubscriptions(context.Background(), []string{"ORDERS_PAID"})
	if err != nil || len(subs) != 1 || subs[0].URI != hook || subs[0].Topic != "ORDERS_PAID" {
		t.Fatalf("listing %+v %v", subs, err)
	}
}

func TestTopicEnum(t *testing.T) {
	for in, want := range map[string]string{"orders/paid": "ORDERS_PAID", "APP_UNINSTALLED": "APP_UNINSTALLED",
		" app/uninstalled ": "APP_UNINSTALLED", "shop/redact": "", "CUSTOMERS_DATA_REQUEST": "", "": "", "a b": ""} {
		got, err := shopify.TopicEnum(in)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("TopicEnum(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
