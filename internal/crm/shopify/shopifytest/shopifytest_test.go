package shopifytest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	shop  = "napa.myshopify.com"
	token = "shpat_napa"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type gql struct {
	status int
	header http.Header
	body   map[string]any
}

// post sends a GraphQL request with the given token ("" for the shop's own).
func post(t *testing.T, ctx context.Context, url, tok, query string, vars map[string]any) (gql, error) {
	t.Helper()
	if tok == "" {
		tok = token
	}
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequestWithContext(ctx, "POST", url+"/admin/api/2025-10/graphql.json", bytes.NewReader(b))
	req.Header.Set("X-Shopify-Access-Token", tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return gql{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	g := gql{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal(raw, &g.body); err != nil {
		t.Fatalf("answer is not JSON: %s", raw)
	}
	return g, nil
}

func must(t *testing.T, url, query string, vars map[string]any) gql {
	t.Helper()
	g, err := post(t, context.Background(), url, "", query, vars)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// dig walks a decoded JSON value: dig(v, "data", "customers", "nodes", 0, "id").
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

const (
	create  = `mutation C($input: CustomerInput!) { customerCreate(input: $input) { customer { id } userErrors { field message } } }`
	find    = `query F($q: String!) { customers(first: 1, query: $q) { nodes { id email } } }`
	tagsAdd = `mutation T($id: ID!, $tags: [String!]!) { tagsAdd(id: $id, tags: $tags) { node { id } userErrors { field message } } }`
	setMF   = `mutation M($m: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $m) { metafields { key value } userErrors { field message } } }`
	delMF   = `mutation D($m: [MetafieldIdentifierInput!]!) { metafieldsDelete(metafields: $m) { deletedMetafields { key } userErrors { field message } } }`
	read    = `query R($id: ID!) { customer(id: $id) { id tags level: metafield(namespace: "tiersync", key: "tier") { value } } }`
)

func TestAuthAndShape(t *testing.T) {
	_, url := Start(t, Options{Shops: map[string]string{shop: token}})
	for _, tok := range []string{"wrong", " "} {
		g, err := post(t, context.Background(), url, tok, find, map[string]any{"q": "email:a@b.c"})
		if err != nil || g.status != 401 || !strings.Contains(g.body["errors"].(string), "Invalid API key or access token") {
			t.Fatalf("token %q: %d %v %v", tok, g.status, g.body, err)
		}
	}
	g := must(t, url, `query { wines { id } }`, nil)
	if g.status != 200 || !strings.Contains(dig(g.body, "errors", 0, "message").(string), "Field 'wines' doesn't exist") {
		t.Fatalf("unknown field: %v", g.body)
	}
	g = must(t, url, find, map[string]any{"q": "email:a@b.c"})
	cost := dig(g.body, "extensions", "cost")
	if dig(cost, "requestedQueryCost") != float64(3) || dig(cost, "actualQueryCost") != float64(2) ||
		dig(cost, "throttleStatus", "maximumAvailable") != float64(2000) || dig(cost, "throttleStatus", "restoreRate") != float64(100) {
		t.Fatalf("cost extension %v", cost)
	}
}

func TestCustomersTagsMetafields(t *testing.T) {
	f, url := Start(t, Options{Shops: map[string]string{shop: token}, SearchLag: 2})
	g := must(t, url, create, map[string]any{"input": map[string]any{"email": "not an email"}})
	if dig(g.body, "data", "customerCreate", "userErrors", 0, "message") != "Email is invalid" {
		t.Fatalf("invalid email: %v", g.body)
	}
	g = must(t, url, create, map[string]any{"input": map[string]any{"email": "Ada@example.com", "firstName": "Ada"}})
	id, _ := dig(g.body, "data", "customerCreate", "customer", "id").(string)
	if !strings.HasPrefix(id, "gid://shopify/Customer/") {
		t.Fatalf("create: %v", g.body)
	}
	g = must(t, url, create, map[string]any{"input": map[string]any{"email": "ada@example.com"}})
	if dig(g.body, "data", "customerCreate", "userErrors", 0, "message") != "Email has already been taken" {
		t.Fatalf("duplicate: %v", g.body)
	}
	// The search lags two searches behind the write.
	for i, want := range []any{nil, nil, id} {
		g = must(t, url, find, map[string]any{"q": `email:"ada@example.com"`})
		if got := dig(g.body, "data", "customers", "nodes", 0, "id"); got != want {
			t.Fatalf("search %d: %v, want %v", i+1, got, want)
		}
	}
	g = must(t, url, tagsAdd, map[string]any{"id": "gid://shopify/Customer/1", "tags": []string{"x"}})
	if dig(g.body, "data", "tagsAdd", "userErrors", 0, "message") != "Customer does not exist" {
		t.Fatalf("unknown customer: %v", g.body)
	}
	for i := 0; i < 2; i++ {
		must(t, url, tagsAdd, map[string]any{"id": id, "tags": []string{"club-gold", "VIP"}})
	}
	must(t, url, tagsAdd, map[string]any{"id": id, "tags": []string{"vip"}})
	mf := func(key, typ, value string) map[string]any {
		return map[string]any{"ownerId": id, "namespace": "tiersync", "key": key, "type": typ, "value": value}
	}
	bad := []map[string]any{mf("tier", "single_line_text_field", "Gold"), mf("expires_at", "date_time", "next year")}
	g = must(t, url, setMF, map[string]any{"m": bad})
	if dig(g.body, "data", "metafieldsSet", "userErrors", 0, "message") != "Value is invalid for type date_time" {
		t.Fatalf("bad metafield: %v", g.body)
	}
	if c, _ := f.Customer(shop, id); len(c.Metafields) != 0 {
		t.Fatalf("a refused metafieldsSet applied part of its input: %v", c.Metafields)
	}
	must(t, url, setMF, map[string]any{"m": []map[string]any{mf("tier", "single_line_text_field", "Gold"), mf("expires_at", "date_time", "2027-11-25T00:00:00Z")}})
	g = must(t, url, read, map[string]any{"id": id})
	if tags := dig(g.body, "data", "customer", "tags"); len(tags.([]any)) != 2 || dig(g.body, "data", "customer", "level", "value") != "Gold" {
		t.Fatalf("read back (tags deduplicated whatever their case, metafield by alias): %v", g.body)
	}
	g = must(t, url, delMF, map[string]any{"m": []map[string]any{{"ownerId": id, "namespace": "tiersync", "key": "tier"}, {"ownerId": id, "namespace": "tiersync", "key": "nope"}}})
	if dig(g.body, "data", "metafieldsDelete", "deletedMetafields", 0, "key") != "tier" || dig(g.body, "data", "metafieldsDelete", "deletedMetafields", 1) != nil {
		t.Fatalf("delete: %v", g.body)
	}
}

func TestCostBucket(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	f, url := Start(t, Options{Shops: map[string]string{shop: token}, BucketSize: 25, RestoreRate: 1, Now: clk.now})
	c := f.AddCustomer(shop, Customer{Email: "a@example.com"})
	add := func() gql { return must(t, url, tagsAdd, map[string]any{"id": c.ID, "tags": []string{"t"}}) }
	add()
	add()
	g := add() // 5 points left, the mutation needs 10
	if dig(g.body, "errors", 0, "extensions", "code") != "THROTTLED" || g.status != 200 || dig(g.body, "data") != nil {
		t.Fatalf("third mutation: %d %v", g.status, g.body)
	}
	cost := dig(g.body, "extensions", "cost")
	if dig(cost, "requestedQueryCost") != float64(10) || dig(cost, "actualQueryCost") != nil || dig(cost, "throttleStatus", "currentlyAvailable") != float64(5) {
		t.Fatalf("throttled cost %v", cost)
	}
	clk.add(5 * time.Second)
	if g := add(); dig(g.body, "errors") != nil || dig(g.body, "extensions", "cost", "throttleStatus", "currentlyAvailable") != float64(0) {
		t.Fatalf("after restoring: %v", g.body)
	}
	reqs := f.Requests()
	if len(reqs) != 4 || !reqs[2].Throttled || reqs[3].Throttled || reqs[3].Operation != "tagsAdd" || reqs[3].Cost != 10 {
		t.Fatalf("request log %+v", reqs)
	}
}

func TestFaults(t *testing.T) {
	f, url := Start(t, Options{Shops: map[string]string{shop: token}})
	c := f.AddCustomer(shop, Customer{Email: "a@example.com"})
	f.Inject(Fault{Operation: "tagsAdd", Kind: FaultStatus, Status: 429, RetryAfter: 3})
	if g := must(t, url, find, map[string]any{"q": "email:a@example.com"}); g.status != 200 {
		t.Fatalf("another operation took the fault: %d", g.status)
	}
	if g := must(t, url, tagsAdd, map[string]any{"id": c.ID, "tags": []string{"t"}}); g.status != 429 || g.header.Get("Retry-After") != "3" {
		t.Fatalf("429: %d %v", g.status, g.header)
	}
	f.Inject(Fault{Kind: FaultThrottle})
	if g := must(t, url, find, map[string]any{"q": "email:a@example.com"}); dig(g.body, "errors", 0, "extensions", "code") != "THROTTLED" {
		t.Fatalf("injected throttle: %v", g.body)
	}
	f.Inject(Fault{Operation: "tagsAdd", Kind: FaultLoseAnswer})
	if _, err := post(t, context.Background(), url, "", tagsAdd, map[string]any{"id": c.ID, "tags": []string{"lost"}}); err == nil {
		t.Fatal("lost answer: got one")
	}
	if got, _ := f.Customer(shop, c.ID); strings.Join(got.Tags, ",") != "lost" {
		t.Fatalf("lost answer not applied: %v", got.Tags)
	}
	f.Inject(Fault{Kind: FaultHang})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := post(t, ctx, url, "", find, map[string]any{"q": "email:a@example.com"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hang: %v", err)
	}
}

func TestControlAPI(t *testing.T) {
	f, url := Start(t, Options{})
	postJSON := func(path, body string) int {
		resp, err := http.Post(url+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := postJSON("/_fake/shopify/shops", `{"shop":"`+shop+`","token":"`+token+`"}`); s != 204 {
		t.Fatalf("shops: %d", s)
	}
	if s := postJSON("/_fake/shopify/faults", `{"kind":"status","status":503,"operation":"customers"}`); s != 204 {
		t.Fatalf("faults: %d", s)
	}
	if s := postJSON("/_fake/shopify/faults", `{"kind":"boom"}`); s != 400 {
		t.Fatalf("bad fault: %d", s)
	}
	if g := must(t, url, find, map[string]any{"q": "email:a@example.com"}); g.status != 503 {
		t.Fatalf("injected over HTTP: %d", g.status)
	}
	f.AddCustomer(shop, Customer{Email: "a@example.com"})
	for path, key := range map[string]string{"/_fake/shopify/customers?shop=" + shop: "customers", "/_fake/shopify/requests": "requests"} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string][]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if len(out[key]) != 1 {
			t.Fatalf("%s: %v", path, out)
		}
	}
}

// TestFaultsPerShop: a fault scoped to one shop leaves the others alone and carries its
// message; the control API scopes it the same way with "shop".
func TestFaultsPerShop(t *testing.T) {
	const other, otherToken = "sonoma.myshopify.com", "shpat_sonoma"
	f, url := Start(t, Options{Shops: map[string]string{shop: token, other: otherToken}})
	f.Inject(Fault{Shop: other, Kind: FaultStatus, Status: 503, Message: "sonoma is down"})
	resp, err := http.Post(url+"/_fake/shopify/faults", "application/json",
		strings.NewReader(`{"kind":"status","status":502,"shop":"`+other+`","message":"again"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("faults: %d", resp.StatusCode)
	}
	if g := must(t, url, find, map[string]any{"q": "email:a@example.com"}); g.status != 200 {
		t.Fatalf("another shop took the fault: %d", g.status)
	}
	for _, want := range []struct {
		status int
		errors string
	}{{503, "sonoma is down"}, {502, "again"}, {200, "<nil>"}} {
		g, err := post(t, context.Background(), url, otherToken, find, map[string]any{"q": "email:a@example.com"})
		if err != nil || g.status != want.status || fmt.Sprint(g.body["errors"]) != want.errors {
			t.Fatalf("%d %v (%v), want %d with %q", g.status, g.body, err, want.status, want.errors)
		}
	}
}
