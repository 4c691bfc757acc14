package shopifytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
)

// at sends one GraphQL request to the given API version and returns the deprecation
// header and the decoded body.
func at(t *testing.T, url, version, query string, vars map[string]any) (string, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", url+"/admin/api/"+version+"/graphql.json", bytes.NewReader(b))
	req.Header.Set("X-Shopify-Access-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.Header.Get(DeprecatedHeader), body
}

func TestReleasesBefore(t *testing.T) {
	for _, c := range []struct {
		v    string
		n    int
		want string
	}{{"2026-10", 4, "2025-10"}, {"2026-01", 1, "2025-10"}, {"2026-04", 0, "2026-04"}, {"2026-10", 9, "2024-07"}, {"unstable", 4, "unstable"}} {
		if got := releasesBefore(c.v, c.n); got != c.want {
			t.Errorf("releasesBefore(%q, %d) = %q, want %q", c.v, c.n, got, c.want)
		}
	}
}

// TestDeprecatedHeader: an old version gets the generic page, a query selecting
// Customer.email gets the field's name; the fake still answers the deprecated field.
func TestDeprecatedHeader(t *testing.T) {
	f, url := Start(t, Options{Shops: map[string]string{shop: token}})
	c := f.AddCustomer(shop, Customer{Email: "ann@example.com"})
	const oldField = `query R($id: ID!) { customer(id: $id) { id email } }`
	const newField = `query R($id: ID!) { customer(id: $id) { id defaultEmailAddress { emailAddress } } }`
	cases := []struct{ version, query, want string }{
		{LatestVersion, newField, ""},
		{LatestVersion, oldField, "Customer.email"},
		{"2025-10", newField, ""},
		{"2025-07", newField, versionPage},
		{"2025-07", oldField, versionPage + ", Customer.email"},
		{"unstable", newField, ""},
	}
	for _, tc := range cases {
		got, body := at(t, url, tc.version, tc.query, map[string]any{"id": c.ID})
		if got != tc.want {
			t.Errorf("%s %.40s: header %q, want %q", tc.version, tc.query, got, tc.want)
		}
		if dig(body, "data", "customer", "email") != "ann@example.com" ||
			dig(body, "data", "customer", "defaultEmailAddress", "emailAddress") != "ann@example.com" {
			t.Errorf("answer %v", body)
		}
	}
}

// TestSearchModesAndPages: the exact search finds the email only; the prefix search finds
// near-matches too, newest first, a page at a time.
func TestSearchModesAndPages(t *testing.T) {
	const q = `query F($q: String!, $after: String) { customers(first: 2, after: $after, query: $q) {
  nodes { id defaultEmailAddress { emailAddress } } pageInfo { hasNextPage endCursor } } }`
	for _, tc := range []struct {
		mode SearchMode
		want []string
	}{
		{SearchExact, []string{"ann@example.com"}},
		{SearchPrefix, []string{"anne@example.com", "ann@other.org", "ann@example.com"}},
	} {
		t.Run(fmt.Sprint(tc.mode), func(t *testing.T) {
			f, url := Start(t, Options{Shops: map[string]string{shop: token}, Search: tc.mode})
			for _, e := range []string{"ann@example.com", "bo@example.com", "ann@other.org", "anne@example.com"} {
				f.AddCustomer(shop, Customer{Email: e})
			}
			var got []string
			var after any
			for page := 0; ; page++ {
				_, body := at(t, url, LatestVersion, q, map[string]any{"q": `email:"ann@example.com"`, "after": after})
				for i := 0; dig(body, "data", "customers", "nodes", i) != nil; i++ {
					got = append(got, dig(body, "data", "customers", "nodes", i, "defaultEmailAddress", "emailAddress").(string))
				}
				// 2 + first × (customer + defaultEmailAddress).
				if c := dig(body, "extensions", "cost", "requestedQueryCost"); c != float64(6) {
					t.Fatalf("requested cost %v", c)
				}
				if dig(body, "data", "customers", "pageInfo", "hasNextPage") != true {
					break
				}
				after = dig(body, "data", "customers", "pageInfo", "endCursor")
				if page > 3 {
					t.Fatal("the pages never end")
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("found %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNormalPhone(t *testing.T) {
	for in, want := range map[string]string{"6135551212": "+16135551212", "+16135551212": "+16135551212",
		"(613)555-1212": "+16135551212", "+1 613-555-1212": "+16135551212", "16135551212": "+16135551212",
		"+442071838750": "+442071838750", "555-1212": "", "+1 613 555 1212 ext 4": "", "phone": "", "": "", "+0123456789": ""} {
		got, ok := normalPhone(in)
		if got != want || ok != (want != "") {
			t.Errorf("normalPhone(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
}

// TestPhoneRules: a phone is refused when it is not a number or another customer has it
// (in any format), with the message the switch picks; an email taken too comes with it.
func TestPhoneRules(t *testing.T) {
	for _, mode := range []PhoneTakenMode{PhoneTakenMessage, PhoneTakenInvalid} {
		f, url := Start(t, Options{Shops: map[string]string{shop: token}, PhoneTaken: mode})
		f.AddCustomer(shop, Customer{Email: "bo@example.com", Phone: "613-555-0100"})
		for _, tc := range []struct{ email, phone, want string }{
			{"a@example.com", "+16135550100", "[phone: " + mode.message() + "]"},
			{"bo@example.com", "(613) 555-0100", "[email: Email has already been taken phone: " + mode.message() + "]"},
			{"b@example.com", "12", "[phone: Phone is invalid]"},
			{"c@example.com", "+16135550101", "[]"},
			{"d@example.com", "613.555.0101", "[phone: " + mode.message() + "]"}, // c's, normalised
		} {
			_, body := at(t, url, LatestVersion, create, map[string]any{"input": map[string]any{"email": tc.email, "phone": tc.phone}})
			var got []string
			for i := 0; dig(body, "data", "customerCreate", "userErrors", i) != nil; i++ {
				e := dig(body, "data", "customerCreate", "userErrors", i)
				got = append(got, fmt.Sprintf("%v: %v", dig(e, "field", 0), dig(e, "message")))
			}
			if fmt.Sprint(got) != tc.want && !(tc.want == "[]" && got == nil) {
				t.Errorf("%v %s %s: %v, want %s", mode, tc.email, tc.phone, got, tc.want)
			}
		}
	}
}

// TestWebhookSubscriptions: the create's checks (https unless AllowHTTPWebhooks, one per
// topic and address, a known topic) and the paged, topic-filtered listing with its cost.
func TestWebhookSubscriptions(t *testing.T) {
	const mk = `mutation C($topic: WebhookSubscriptionTopic!, $s: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $s) { webhookSubscription { id } userErrors { field message } } }`
	const list = `query L($topics: [WebhookSubscriptionTopic!], $after: String) {
  webhookSubscriptions(first: 2, after: $after, topics: $topics) { nodes { id topic uri } pageInfo { hasNextPage endCursor } } }`
	for _, allowHTTP := range []bool{false, true} {
		f, url := Start(t, Options{Shops: map[string]string{shop: token}, AllowHTTPWebhooks: allowHTTP})
		httpWant := "[webhookSubscription.uri: Address protocol http:// is not supported]"
		if allowHTTP {
			httpWant = "[]"
		}
		for _, tc := range []struct {
			topic string
			in    map[string]any
			want  string
		}{
			{"ORDERS_PAID", map[string]any{"uri": "https://a.example/h", "format": "JSON"}, "[]"},
			{"ORDERS_PAID", map[string]any{"uri": "https://a.example/h"}, "[webhookSubscription.uri: Address for this topic has already been taken]"},
			{"ORDERS_CREATE", map[string]any{"callbackUrl": "https://a.example/h"}, "[]"},
			{"APP_UNINSTALLED", map[string]any{"uri": "http://127.0.0.1:9/h"}, httpWant},
			{"APP_UNINSTALLED", map[string]any{"uri": "/relative"}, "[webhookSubscription.uri: Address is invalid]"},
			{"ORDERS_PAID", map[string]any{"uri": "https://b.example/h", "format": "YAML"}, "[webhookSubscription.format: Format is invalid]"},
			{"CUSTOMERS_REDACT", map[string]any{"uri": "https://a.example/h"}, "error"},
		} {
			_, body := at(t, url, LatestVersion, mk, map[string]any{"topic": tc.topic, "s": tc.in})
			got := "error"
			if body["errors"] == nil {
				var errs []string
				for i := 0; dig(body, "data", "webhookSubscriptionCreate", "userErrors", i) != nil; i++ {
					e := dig(body, "data", "webhookSubscriptionCreate", "userErrors", i)
					errs = append(errs, fmt.Sprintf("%v.%v: %v", dig(e, "field", 0), dig(e, "field", 1), dig(e, "message")))
				}
				got = fmt.Sprint(errs)
				if errs == nil {
					got = "[]"
				}
			}
			if got != tc.want {
				t.Errorf("http=%v %s %v: %s, want %s", allowHTTP, tc.topic, tc.in, got, tc.want)
			}
		}
		f.AddSubscription(shop, Subscription{Topic: "ORDERS_PAID", URI: "https://c.example/h"})
		var uris []string
		var after any
		for range 5 {
			_, body := at(t, url, LatestVersion, list, map[string]any{"topics": []string{"ORDERS_PAID"}, "after": after})
			if c := dig(body, "extensions", "cost", "requestedQueryCost"); c != float64(4) {
				t.Fatalf("requested cost %v", c)
			}
			for i := 0; dig(body, "data", "webhookSubscriptions", "nodes", i) != nil; i++ {
				uris = append(uris, dig(body, "data", "webhookSubscriptions", "nodes", i, "uri").(string))
			}
			if dig(body, "data", "webhookSubscriptions", "pageInfo", "hasNextPage") != true {
				break
			}
			after = dig(body, "data", "webhookSubscriptions", "pageInfo", "endCursor")
		}
		if fmt.Sprint(uris) != "[https://a.example/h https://c.example/h]" {
			t.Errorf("http=%v: listed %v", allowHTTP, uris)
		}
		if n := len(f.Subscriptions(shop)); n != map[bool]int{false: 3, true: 4}[allowHTTP] {
			t.Errorf("http=%v: %d subscriptions", allowHTTP, n)
		}
	}
}
