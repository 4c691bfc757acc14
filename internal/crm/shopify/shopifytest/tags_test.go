package shopifytest

import (
	"fmt"
	"strings"
	"testing"
)

// listTags is the listing query tiersync sends, with a page size and sort key to vary.
func listTags(first int, sortKey string) string {
	return fmt.Sprintf(`query L($q: String!, $after: String) { customers(first: %d, after: $after, sortKey: %s, query: $q) {
  nodes { id defaultEmailAddress { emailAddress } tags tier: metafield(namespace: "tiersync", key: "tier") { value } }
  pageInfo { hasNextPage endCursor } } }`, first, sortKey)
}

// ids are the nodes' ids of a customers answer, in order.
func ids(body map[string]any) []string {
	var out []string
	for i := 0; dig(body, "data", "customers", "nodes", i) != nil; i++ {
		out = append(out, dig(body, "data", "customers", "nodes", i, "id").(string))
	}
	return out
}

func TestParseTagQuery(t *testing.T) {
	cases := []struct {
		query   string
		want    []string
		tagged  bool
		wantErr string
	}{
		{query: `tag:vip`, want: []string{"vip"}, tagged: true},
		{query: `  tag:"club gold" OR tag:'x y' OR tag:"a \"b\" \\c"  `, want: []string{"club gold", "x y", `a "b" \c`}, tagged: true},
		{query: `tag:club\ gold OR tag:"(x):y"`, want: []string{"club gold", "(x):y"}, tagged: true},
		{query: `email:"ann@example.com"`},
		{query: ``},
		{query: `tag:a tag:b`, tagged: true, wantErr: "not joined by OR"},
		{query: `tag:a OR email:b`, tagged: true, wantErr: "expected tag:"},
		{query: `tag:a OR`, tagged: true, wantErr: "expected tag:"},
		{query: `tag:"open`, tagged: true, wantErr: "unterminated quote"},
		{query: `tag:""`, tagged: true, wantErr: "an empty tag"},
	}
	for _, tc := range cases {
		got, tagged, err := parseTagQuery(tc.query)
		if tagged != tc.tagged || fmt.Sprint(got) != fmt.Sprint(tc.want) ||
			(tc.wantErr == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("parseTagQuery(%s) = %q, %v, %v; want %q, %v, %q", tc.query, got, tagged, err, tc.want, tc.tagged, tc.wantErr)
		}
	}
}

// TestTagSearchModes: each reading of a tag term, on the same customers.
func TestTagSearchModes(t *testing.T) {
	cases := []struct {
		mode TagSearchMode
		want string // the customers found, by name
	}{
		{TagSearchExact, "gold GOLD"},
		{TagSearchCaseSensitive, "gold"},
		{TagSearchPrefix, "gold GOLD alumni"},
		{TagSearchIgnored, "gold GOLD alumni vip none"},
	}
	for _, tc := range cases {
		t.Run(tc.mode.String(), func(t *testing.T) {
			f, url := Start(t, Options{Shops: map[string]string{shop: token}, TagSearch: tc.mode})
			names := map[string]string{}
			for _, c := range []struct {
				name string
				tags []string
			}{{"gold", []string{"club-gold"}}, {"GOLD", []string{"CLUB-GOLD"}}, {"alumni", []string{"club-gold-alumni"}},
				{"vip", []string{"vip"}}, {"none", nil}} {
				names[f.AddCustomer(shop, Customer{Email: c.name + "@example.com", Tags: c.tags}).ID] = c.name
			}
			g := must(t, url, listTags(10, "ID"), map[string]any{"q": `tag:"club-gold"`})
			var got []string
			for _, id := range ids(g.body) {
				got = append(got, names[id])
			}
			if strings.Join(got, " ") != tc.want {
				t.Fatalf("found %q, want %q (%v)", got, tc.want, g.body)
			}
		})
	}
}

// TestTagSearchPagesByID: pages in ID order, a cursor that is a position (a customer of an
// earlier page deleted moves nothing), the requested cost growing with first, the actual
// cost with the page, and what the fake refuses.
func TestTagSearchPagesByID(t *testing.T) {
	f, url := Start(t, Options{Shops: map[string]string{shop: token}})
	var all []string
	for i := range 5 {
		c := f.AddCustomer(shop, Customer{Email: fmt.Sprintf("m%d@example.com", i), Tags: []string{"vip", "club gold"}})
		all = append(all, c.ID)
	}
	f.AddCustomer(shop, Customer{Email: "other@example.com", Tags: []string{"club silver"}})
	f.SetMetafield(shop, all[0], "tiersync", "tier", "Gold")
	q := map[string]any{"q": `tag:"club gold"`}

	g := must(t, url, listTags(2, "ID"), q)
	// 2 + first × (customer + defaultEmailAddress + metafield); tags are free.
	if dig(g.body, "extensions", "cost", "requestedQueryCost") != float64(8) || dig(g.body, "extensions", "cost", "actualQueryCost") != float64(8) {
		t.Fatalf("cost %v", dig(g.body, "extensions", "cost"))
	}
	if got := ids(g.body); fmt.Sprint(got) != fmt.Sprint(all[:2]) || dig(g.body, "data", "customers", "pageInfo", "hasNextPage") != true {
		t.Fatalf("page 1: %v", g.body)
	}
	node := dig(g.body, "data", "customers", "nodes", 0)
	if fmt.Sprint(dig(node, "tags")) != "[club gold vip]" || dig(node, "tier", "value") != "Gold" ||
		dig(node, "defaultEmailAddress", "emailAddress") != "m0@example.com" || dig(g.body, "data", "customers", "nodes", 1, "tier") != nil {
		t.Fatalf("nodes: %v", dig(g.body, "data", "customers", "nodes"))
	}
	f.DeleteCustomer(shop, all[1])
	q["after"] = dig(g.body, "data", "customers", "pageInfo", "endCursor")
	g = must(t, url, listTags(2, "ID"), q)
	if got := ids(g.body); fmt.Sprint(got) != fmt.Sprint(all[2:4]) {
		t.Fatalf("page 2 after deleting a customer of page 1: %v, want %v", got, all[2:4])
	}
	q["after"] = dig(g.body, "data", "customers", "pageInfo", "endCursor")
	g = must(t, url, listTags(250, "ID"), q)
	if got := ids(g.body); fmt.Sprint(got) != fmt.Sprint(all[4:]) || dig(g.body, "data", "customers", "pageInfo", "hasNextPage") != false ||
		dig(g.body, "extensions", "cost", "requestedQueryCost") != float64(752) || dig(g.body, "extensions", "cost", "actualQueryCost") != float64(5) {
		t.Fatalf("last page: %v", g.body)
	}
	g = must(t, url, listTags(10, "ID"), map[string]any{"q": `tag:nobody`})
	if len(ids(g.body)) != 0 || dig(g.body, "data", "customers", "pageInfo", "endCursor") != nil || dig(g.body, "extensions", "cost", "actualQueryCost") != float64(2) {
		t.Fatalf("empty page: %v", g.body)
	}

	for _, bad := range []struct {
		query string
		vars  map[string]any
		want  string
	}{
		{listTags(2, "ID"), map[string]any{"q": `tag:"club gold"`, "after": "bm90IGEgY3Vyc29y"}, "invalid cursor"},
		{listTags(2, "CREATED_AT"), map[string]any{"q": `tag:"club gold"`}, "sorts by ID only"},
		{listTags(2, "ID"), map[string]any{"q": `tag:"club gold" tag:vip`}, "joined by OR"},
	} {
		g := must(t, url, bad.query, bad.vars)
		if msg, _ := dig(g.body, "errors", 0, "message").(string); !strings.Contains(msg, bad.want) || dig(g.body, "data") != nil {
			t.Errorf("%v: %v, want an error %q", bad.vars, g.body, bad.want)
		}
	}
}

// TestTagSearchLag: the tag search sees the tags from before a change for TagSearchLag
// searches, while the customers it returns carry their current tags.
func TestTagSearchLag(t *testing.T) {
	for _, lag := range []int{0, 2} {
		t.Run(fmt.Sprint("lag ", lag), func(t *testing.T) {
			f, url := Start(t, Options{Shops: map[string]string{shop: token}, TagSearchLag: lag})
			was := f.AddCustomer(shop, Customer{Email: "was@example.com", Tags: []string{"club-gold"}})
			now := f.AddCustomer(shop, Customer{Email: "now@example.com"})
			must(t, url, tagsAdd, map[string]any{"id": now.ID, "tags": []string{"club-gold"}})
			f.SetTags(shop, was.ID, []string{"vip"})
			for search := 1; search <= lag+1; search++ {
				g := must(t, url, listTags(10, "ID"), map[string]any{"q": `tag:"club-gold"`})
				want, tags := []string{now.ID}, "[club-gold]"
				if search <= lag {
					want, tags = []string{was.ID}, "[vip]"
				}
				if got := ids(g.body); fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprint(dig(g.body, "data", "customers", "nodes", 0, "tags")) != tags {
					t.Fatalf("search %d: %v, want %v with tags %s", search, g.body, want, tags)
				}
			}
		})
	}
}

// TestDriftHelpers: the merchant's edits change the customer without a request, a cost or
// a fault.
func TestDriftHelpers(t *testing.T) {
	f, url := Start(t, Options{Shops: map[string]string{shop: token}})
	c := f.AddCustomer(shop, Customer{Email: "ada@example.com", Tags: []string{"club-gold"}})
	f.Inject(Fault{Kind: FaultStatus, Status: 500, Count: 10})
	f.SetTags(shop, c.ID, []string{" vip ", "VIP", "", "club-platinum"})
	f.SetMetafield(shop, c.ID, "tiersync", "tier", "Platinum")
	f.SetMetafield(shop, c.ID, "tiersync", "expires_at", "soon")
	f.DeleteMetafield(shop, c.ID, "tiersync", "expires_at")
	got, _ := f.Customer(shop, c.ID)
	if fmt.Sprint(got.Tags) != "[vip club-platinum]" || len(got.Metafields) != 1 ||
		got.Metafields["tiersync.tier"] != (Metafield{Type: "single_line_text_field", Value: "Platinum"}) {
		t.Fatalf("after the edits: %+v", got)
	}
	if n := len(f.Requests()); n != 0 || f.Available(shop) != 2000 {
		t.Fatalf("%d requests logged, bucket %v", n, f.Available(shop))
	}
	f.DeleteCustomer(shop, c.ID)
	f.ClearFaults()
	if g := must(t, url, read, map[string]any{"id": c.ID}); dig(g.body, "data", "customer") != nil || dig(g.body, "errors") != nil {
		t.Fatalf("a deleted customer: %v", g.body)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("SetTags of an unknown customer did not panic")
		}
	}()
	f.SetTags(shop, c.ID, nil)
}
