package shopify_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"tiersync/internal/crm"
	"tiersync/internal/crm/shopify"
	"tiersync/internal/crm/shopify/shopifytest"
)

// cellar's tag needs the search's quoting: spaces, double quotes, parentheses.
var (
	cellar   = crm.Tier{ID: "tier-cellar", Name: "Cellar Reserve", ShopifyTag: `club "cellar" (reserve)`}
	unmapped = crm.Tier{ID: "tier-c7", Name: "Commerce7 only"}
	listed   = []crm.Tier{gold, platinum, cellar, unmapped}
)

// listFake starts a fake on the test clock and returns it with a maker of Providers: each
// call is a new Client, as another process (or the same one after a crash) would have.
func listFake(t *testing.T, opts shopifytest.Options) (*shopifytest.Fake, func() *shopify.Provider, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	opts.Shops = map[string]string{shop: token}
	opts.Now = clk.now
	fake, url := shopifytest.Start(t, opts)
	fresh := func() *shopify.Provider {
		c, err := shopify.New(shopify.Config{BaseURL: url, Timeout: 5 * time.Second, Now: clk.now, Wait: clk.wait})
		if err != nil {
			t.Fatal(err)
		}
		return c.Provider("client-1", shop, token)
	}
	return fake, fresh, clk
}

// listAll reads every page and returns the members and the number of pages.
func listAll(t *testing.T, p *shopify.Provider, tiers []crm.Tier) ([]crm.Member, int) {
	t.Helper()
	var all []crm.Member
	cursor := ""
	for pages := 1; pages <= 50; pages++ {
		members, next, err := p.ListMembers(context.Background(), tiers, cursor)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		all = append(all, members...)
		if next == "" {
			return all, pages
		}
		cursor = next
	}
	t.Fatal("the listing never ends")
	return nil, 0
}

// keys renders members sorted, one line each, for comparison.
func keys(members []crm.Member) string {
	var out []string
	for _, m := range members {
		out = append(out, fmt.Sprintf("%s %s %s %q", m.CustomerID, m.TierID, m.Email, m.TierNote))
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func member(c shopifytest.Customer, tier crm.Tier, note string) crm.Member {
	return crm.Member{CustomerID: c.ID, Email: c.Email, TierID: tier.ID, TierNote: note}
}

func requests(fake *shopifytest.Fake, op string) (n, throttled int) {
	for _, r := range fake.Requests() {
		if r.Operation == op {
			n++
			if r.Throttled {
				throttled++
			}
		}
	}
	return n, throttled
}

// seedTiers adds n customers: gold, platinum, both, neither (vip), cellar, in turn, with
// the metafield tiersync writes (both: Platinum, the newer; cellar: none). It returns the
// members a listing of listed must find.
func seedTiers(fake *shopifytest.Fake, n int) []crm.Member {
	const missing = "metafield tiersync.tier is missing"
	var want []crm.Member
	for i := range n {
		c := shopifytest.Customer{Email: fmt.Sprintf("m%03d@example.com", i)}
		mf := ""
		switch i % 5 {
		case 0:
			c.Tags, mf = []string{"club-gold", "vip"}, "Gold"
		case 1:
			c.Tags, mf = []string{"club-platinum"}, "Platinum"
		case 2:
			c.Tags, mf = []string{"club-gold", "club-platinum"}, "Platinum"
		case 3:
			c.Tags, mf = []string{"vip"}, "Gold" // a metafield alone is no membership
		case 4:
			c.Tags = []string{cellar.ShopifyTag}
		}
		c = fake.AddCustomer(shop, c)
		if mf != "" {
			fake.SetMetafield(shop, c.ID, "tiersync", "tier", mf)
		}
		switch i % 5 {
		case 0:
			want = append(want, member(c, gold, ""))
		case 1:
			want = append(want, member(c, platinum, ""))
		case 2:
			want = append(want, member(c, gold, `metafield tiersync.tier is "Platinum"`), member(c, platinum, ""))
		case 4:
			want = append(want, member(c, cellar, missing))
		}
	}
	return want
}

// TestListMembersPages: every member exactly once across pages of 100, a customer in two
// tiers twice, customers without a mapped tag never; one request a page, each with the
// quoted tags and requested cost 302.
func TestListMembersPages(t *testing.T) {
	cases := []struct {
		name      string
		customers int
		wantPages int
	}{
		{"no customers", 0, 1},
		{"one page", 30, 1},
		{"exactly one full page", 125, 1}, // 100 tagged of 125
		{"three pages", 260, 3},           // 208 tagged
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake, fresh, _ := listFake(t, shopifytest.Options{})
			want := seedTiers(fake, tc.customers)
			got, pages := listAll(t, fresh(), listed)
			if keys(got) != keys(want) {
				t.Fatalf("members:\n%s\nwant:\n%s", keys(got), keys(want))
			}
			reqs := fake.Requests()
			if pages != tc.wantPages || len(reqs) != tc.wantPages {
				t.Fatalf("%d pages in %d requests, want %d", pages, len(reqs), tc.wantPages)
			}
			for _, r := range reqs {
				if r.Operation != "customers" || r.Cost != 302 || r.Throttled || r.Variables["first"] != float64(100) ||
					r.Variables["query"] != `tag:"club-gold" OR tag:"club-platinum" OR tag:"club \"cellar\" (reserve)"` {
					t.Fatalf("request %+v", r)
				}
			}
		})
	}
}

// TestTierNotes: the metafield is reported where it does not name the tag's tier, in the
// listing and in CustomerMembers alike; tags match whatever their case.
func TestTierNotes(t *testing.T) {
	none := "<none>"
	cases := []struct {
		name      string
		tags      []string
		metafield string // none: missing
		want      map[string]string
	}{
		{"agrees", []string{"club-gold"}, "Gold", map[string]string{gold.ID: ""}},
		{"missing", []string{"club-gold"}, none, map[string]string{gold.ID: "metafield tiersync.tier is missing"}},
		{"another tier", []string{"club-gold"}, "Platinum", map[string]string{gold.ID: `metafield tiersync.tier is "Platinum"`}},
		{"another case is another name", []string{"club-gold"}, "gold", map[string]string{gold.ID: `metafield tiersync.tier is "gold"`}},
		{"a tier tiersync does not know", []string{"club-gold"}, "Bronze\n", map[string]string{gold.ID: `metafield tiersync.tier is "Bronze\n"`}},
		{"two tiers", []string{"club-gold", "club-platinum"}, "Platinum",
			map[string]string{gold.ID: `metafield tiersync.tier is "Platinum"`, platinum.ID: ""}},
		{"the tag in another case", []string{"CLUB-Gold"}, "Gold", map[string]string{gold.ID: ""}},
		{"the metafield without the tag", []string{"vip"}, "Gold", map[string]string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake, fresh, _ := listFake(t, shopifytest.Options{})
			c := fake.AddCustomer(shop, shopifytest.Customer{Email: "ann@example.com"})
			fake.SetTags(shop, c.ID, tc.tags) // SetTags keeps the case given
			if tc.metafield != none {
				fake.SetMetafield(shop, c.ID, "tiersync", "tier", tc.metafield)
			}
			var want, wantOne []crm.Member
			for _, tier := range listed {
				if note, ok := tc.want[tier.ID]; ok {
					want = append(want, member(c, tier, note))
					wantOne = append(wantOne, crm.Member{CustomerID: c.ID, TierID: tier.ID, TierNote: note})
				}
			}
			p := fresh()
			if got, _ := listAll(t, p, listed); keys(got) != keys(want) {
				t.Fatalf("listing:\n%s\nwant:\n%s", keys(got), keys(want))
			}
			got, err := p.CustomerMembers(context.Background(), c.ID, listed)
			if err != nil || keys(got) != keys(wantOne) {
				t.Fatalf("CustomerMembers: %v\n%s\nwant:\n%s", err, keys(got), keys(wantOne))
			}
		})
	}
}

// TestListResumesInAFreshProvider: a cursor from one Provider continues in a new Client,
// and customers of the first page deleted or untagged in between move nothing (the
// cursor is a position by ID, not an offset).
func TestListResumesInAFreshProvider(t *testing.T) {
	cases := []struct {
		name    string
		between func(fake *shopifytest.Fake, firstPage []crm.Member)
	}{
		{"nothing changes", func(*shopifytest.Fake, []crm.Member) {}},
		{"first-page customers deleted and untagged", func(fake *shopifytest.Fake, first []crm.Member) {
			fake.DeleteCustomer(shop, first[0].CustomerID)
			fake.SetTags(shop, first[1].CustomerID, nil)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake, fresh, _ := listFake(t, shopifytest.Options{})
			var want []crm.Member
			for i := range 150 {
				c := fake.AddCustomer(shop, shopifytest.Customer{Email: fmt.Sprintf("g%03d@example.com", i), Tags: []string{"club-gold"}})
				fake.SetMetafield(shop, c.ID, "tiersync", "tier", "Gold")
				want = append(want, member(c, gold, ""))
			}
			ctx := context.Background()
			first, cursor, err := fresh().ListMembers(ctx, []crm.Tier{gold}, "")
			if err != nil || len(first) != 100 || cursor == "" {
				t.Fatalf("page 1: %d members, cursor %q, %v", len(first), cursor, err)
			}
			tc.between(fake, first)
			rest, next, err := fresh().ListMembers(ctx, []crm.Tier{gold}, cursor)
			if err != nil || next != "" {
				t.Fatalf("page 2: next %q, %v", next, err)
			}
			if got := keys(append(first, rest...)); got != keys(want) {
				t.Fatalf("pages 1 and 2 (%d + %d members) are not every member once", len(first), len(rest))
			}
		})
	}
}

// TestListWaitsOutThrottling: a refusal for the rate in the middle of a listing is waited
// out within the call when the wait fits in the Timeout (3 times at most); otherwise the
// caller gets the Throttled error with its RetryAfter, waits, and asks for the same page.
// Either way the listing completes with every member.
func TestListWaitsOutThrottling(t *testing.T) {
	cases := []struct {
		name          string
		opts          shopifytest.Options
		fault         shopifytest.Fault
		wantRefusals  int           // answers refusing page 2
		wantInCall    time.Duration // waited inside the call(s) for page 2
		wantCallerErr time.Duration // the Throttled error's RetryAfter; 0: none
	}{
		// requestedQueryCost 302, currentlyAvailable 0, 100 points/s: 3.02 s.
		{name: "THROTTLED once", fault: shopifytest.Fault{Kind: shopifytest.FaultThrottle},
			wantRefusals: 1, wantInCall: 3020 * time.Millisecond},
		{name: "429 with Retry-After", fault: shopifytest.Fault{Kind: shopifytest.FaultStatus, Status: 429, RetryAfter: 2},
			wantRefusals: 1, wantInCall: 2 * time.Second},
		{name: "THROTTLED four times: three waits, then the caller's", fault: shopifytest.Fault{Kind: shopifytest.FaultThrottle, Count: 4},
			wantRefusals: 4, wantInCall: 3 * 3020 * time.Millisecond, wantCallerErr: 3020 * time.Millisecond},
		// 10 points/s: 30.2 s, longer than the 5 s Timeout: not waited in the call.
		{name: "THROTTLED for longer than the timeout", opts: shopifytest.Options{RestoreRate: 10},
			fault: shopifytest.Fault{Kind: shopifytest.FaultThrottle}, wantRefusals: 1, wantCallerErr: 30200 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake, fresh, clk := listFake(t, tc.opts)
			var want []crm.Member
			for i := range 150 {
				c := fake.AddCustomer(shop, shopifytest.Customer{Email: fmt.Sprintf("g%03d@example.com", i), Tags: []string{"club-gold"}})
				fake.SetMetafield(shop, c.ID, "tiersync", "tier", "Gold")
				want = append(want, member(c, gold, ""))
			}
			p, ctx := fresh(), context.Background()
			got, cursor, err := p.ListMembers(ctx, []crm.Tier{gold}, "")
			if err != nil {
				t.Fatal(err)
			}
			tc.fault.Operation = "customers"
			fake.Inject(tc.fault)
			before := clk.waited
			rest, next, err := p.ListMembers(ctx, []crm.Tier{gold}, cursor)
			if inCall := clk.waited - before; inCall < tc.wantInCall || inCall > tc.wantInCall+10*time.Millisecond {
				t.Fatalf("waited %v in the call, want %v", inCall, tc.wantInCall)
			}
			if tc.wantCallerErr > 0 {
				var e *crm.Error
				if !errors.As(err, &e) || e.Class != crm.Throttled || e.RetryAfter < tc.wantCallerErr || e.RetryAfter > tc.wantCallerErr+10*time.Millisecond {
					t.Fatalf("error %v, want Throttled after %v", err, tc.wantCallerErr)
				}
				// The caller waits, then asks for the same page, as often as it is told to (once
				// the bucket holds the page, the listing also waits for its reserve).
				for try := 0; try < 3 && errors.As(err, &e) && e.Class == crm.Throttled; try++ {
					_ = clk.wait(ctx, e.RetryAfter)
					rest, next, err = p.ListMembers(ctx, []crm.Tier{gold}, cursor)
				}
			}
			if err != nil || next != "" {
				t.Fatalf("page 2: next %q, %v", next, err)
			}
			if keys(append(got, rest...)) != keys(want) {
				t.Fatalf("the listing lost or repeated members: %d + %d of %d", len(got), len(rest), len(want))
			}
			if n, throttled := requests(fake, "customers"); n != 2+tc.wantRefusals || throttled+countStatus(fake, 429) != tc.wantRefusals {
				t.Fatalf("%d listing requests, %d throttled; want %d refusals", n, throttled, tc.wantRefusals)
			}
		})
	}
}

func countStatus(fake *shopifytest.Fake, status int) int {
	n := 0
	for _, r := range fake.Requests() {
		if r.Status == status {
			n++
		}
	}
	return n
}

// TestListPacesItself: the requested cost it declares (302) is what Shopify charges for a
// full page, so the client waits for the bucket before the page it cannot pay instead of
// being throttled, and leaves a fifth of the bucket for live work (1 000 points restoring
// 100/s).
func TestListPacesItself(t *testing.T) {
	fake, fresh, clk := listFake(t, shopifytest.Options{BucketSize: 1000, RestoreRate: 100})
	for i := range 400 {
		fake.AddCustomer(shop, shopifytest.Customer{Email: fmt.Sprintf("g%03d@example.com", i), Tags: []string{"club-gold"}})
	}
	got, pages := listAll(t, fresh(), []crm.Tier{gold})
	if len(got) != 400 || pages != 4 {
		t.Fatalf("%d members in %d pages", len(got), pages)
	}
	if _, throttled := requests(fake, "customers"); throttled != 0 {
		t.Fatalf("%d pages throttled", throttled)
	}
	// Pages cost 302 and leave 20 % of the bucket (200 points) for live work: no wait for
	// the first two (1 000, then 698 points), 106 points (1.06 s) before the third and 302
	// (3.02 s) before the fourth.
	if want := 4080 * time.Millisecond; clk.waited < want || clk.waited > want+10*time.Millisecond {
		t.Fatalf("waited %v, want %v", clk.waited, want)
	}
}

// TestListAgainstEachTagSearch: however Shopify's search matches a tag term, the members
// are the customers carrying a mapped tag (case-insensitively); a search that matches
// only the same case misses a customer whose tag differs in case, whom CustomerMembers
// (the confirmation read) still finds.
func TestListAgainstEachTagSearch(t *testing.T) {
	cases := []struct {
		mode     shopifytest.TagSearchMode
		want     string // the members found, by name
		wantSeen int    // customers the search returned
	}{
		{shopifytest.TagSearchExact, "gold GOLD platinum", 3},
		{shopifytest.TagSearchCaseSensitive, "gold platinum", 2},
		{shopifytest.TagSearchPrefix, "gold GOLD platinum", 4},
		{shopifytest.TagSearchIgnored, "gold GOLD platinum", 5},
	}
	for _, tc := range cases {
		t.Run(tc.mode.String(), func(t *testing.T) {
			fake, fresh, _ := listFake(t, shopifytest.Options{TagSearch: tc.mode})
			names := map[string]string{}
			var upper shopifytest.Customer
			for _, c := range []struct{ name, tag string }{
				{"gold", "club-gold"}, {"GOLD", "CLUB-GOLD"}, {"alumni", "club-gold-alumni"}, {"vip", "vip"}, {"platinum", "club-platinum"},
			} {
				added := fake.AddCustomer(shop, shopifytest.Customer{Email: c.name + "@example.com", Tags: []string{c.tag}})
				names[added.ID] = c.name
				if c.name == "GOLD" {
					upper = added
				}
			}
			p := fresh()
			members, next, err := p.ListMembers(context.Background(), []crm.Tier{gold, platinum}, "")
			if err != nil || next != "" {
				t.Fatalf("next %q, %v", next, err)
			}
			var got []string
			for _, m := range members {
				got = append(got, names[m.CustomerID])
			}
			if strings.Join(got, " ") != tc.want {
				t.Fatalf("members %q, want %q", got, tc.want)
			}
			// The customers the search answered, from the actual cost: 2 + 3 a customer.
			if seen := seenByLastListing(fake); seen != tc.wantSeen {
				t.Fatalf("the search returned %d customers, want %d", seen, tc.wantSeen)
			}
			one, err := p.CustomerMembers(context.Background(), upper.ID, []crm.Tier{gold, platinum})
			if err != nil || len(one) != 1 || one[0].TierID != gold.ID {
				t.Fatalf("CustomerMembers of the upper-case tag: %+v %v", one, err)
			}
		})
	}
}

// seenByLastListing is how many customers the last listing's answer held, from what the
// fake's bucket was charged for it (2 + 3 a customer).
func seenByLastListing(fake *shopifytest.Fake) int {
	full := fake.Available(shop) // no restore between requests: the test clock stands still
	return int((2000 - full - 2) / 3)
}

// TestListAgainstTheSearchLag: a search index behind a change finds the customer who
// lost the tag (no member: the customer's own tags decide) and misses the one who gained
// it, whom CustomerMembers finds; once caught up, the listing is right.
func TestListAgainstTheSearchLag(t *testing.T) {
	cases := []struct {
		lag  int
		want []string // the members' names, listing after listing
	}{
		{0, []string{"gained"}},
		{1, []string{"", "gained"}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint("lag ", tc.lag), func(t *testing.T) {
			fake, fresh, _ := listFake(t, shopifytest.Options{TagSearchLag: tc.lag})
			lost := fake.AddCustomer(shop, shopifytest.Customer{Email: "lost@example.com", Tags: []string{"club-gold"}})
			gained := fake.AddCustomer(shop, shopifytest.Customer{Email: "gained@example.com"})
			fake.SetTags(shop, lost.ID, []string{"vip"})
			fake.SetTags(shop, gained.ID, []string{"club-gold"})
			names := map[string]string{lost.ID: "lost", gained.ID: "gained"}
			p := fresh()
			for i, want := range tc.want {
				members, _ := listAll(t, p, []crm.Tier{gold})
				var got []string
				for _, m := range members {
					got = append(got, names[m.CustomerID])
				}
				if strings.Join(got, " ") != want {
					t.Fatalf("listing %d: %q, want %q", i+1, got, want)
				}
			}
			ctx := context.Background()
			if m, err := p.CustomerMembers(ctx, gained.ID, []crm.Tier{gold}); err != nil || len(m) != 1 {
				t.Fatalf("CustomerMembers(gained): %+v %v", m, err)
			}
			if m, err := p.CustomerMembers(ctx, lost.ID, []crm.Tier{gold}); err != nil || len(m) != 0 {
				t.Fatalf("CustomerMembers(lost): %+v %v", m, err)
			}
		})
	}
}

// TestCustomerMembersAndEmail: one read each (cost 2); a customer Shopify no longer has,
// or never had, is a member of nothing and has no email, without an error.
func TestCustomerMembersAndEmail(t *testing.T) {
	cases := []struct {
		name        string
		customer    *shopifytest.Customer // nil: an id Shopify never had
		deleted     bool
		wantTiers   string
		wantEmail   string
		wantRequest bool
	}{
		{name: "a member", customer: &shopifytest.Customer{Email: "ann@example.com", Tags: []string{"club-gold", "club-platinum"}},
			wantTiers: "tier-gold tier-platinum", wantEmail: "ann@example.com"},
		{name: "no email", customer: &shopifytest.Customer{Tags: []string{"club-gold"}}, wantTiers: "tier-gold"},
		{name: "no mapped tag", customer: &shopifytest.Customer{Email: "bo@example.com", Tags: []string{"vip"}}, wantEmail: "bo@example.com"},
		{name: "deleted", customer: &shopifytest.Customer{Email: "cy@example.com", Tags: []string{"club-gold"}}, deleted: true},
		{name: "never existed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake, fresh, _ := listFake(t, shopifytest.Options{})
			id := "gid://shopify/Customer/1"
			if tc.customer != nil {
				id = fake.AddCustomer(shop, *tc.customer).ID
				if tc.deleted {
					fake.DeleteCustomer(shop, id)
				}
			}
			p, ctx := fresh(), context.Background()
			members, err := p.CustomerMembers(ctx, id, listed)
			if err != nil {
				t.Fatal(err)
			}
			var tiers []string
			for _, m := range members {
				if m.CustomerID != id || m.Email != "" {
					t.Fatalf("member %+v", m)
				}
				tiers = append(tiers, m.TierID)
			}
			if strings.Join(tiers, " ") != tc.wantTiers {
				t.Fatalf("tiers %q, want %q", tiers, tc.wantTiers)
			}
			email, err := p.CustomerEmail(ctx, id)
			if err != nil || email != tc.wantEmail {
				t.Fatalf("email %q %v, want %q", email, err, tc.wantEmail)
			}
			reqs := fake.Requests()
			if len(reqs) != 2 || reqs[0].Operation != "customer" || reqs[1].Operation != "customer" || reqs[0].Cost != 2 || reqs[1].Cost != 2 {
				t.Fatalf("requests %+v, want two customer reads of cost 2", reqs)
			}
		})
	}
}

// TestNoMappedTierSendsNothing: without a tier tagged in Shopify there is nothing to list,
// and an empty search would list the whole shop.
func TestNoMappedTierSendsNothing(t *testing.T) {
	fake, fresh, _ := listFake(t, shopifytest.Options{})
	c := fake.AddCustomer(shop, shopifytest.Customer{Email: "ann@example.com", Tags: []string{"club-gold"}})
	p, ctx := fresh(), context.Background()
	for _, tiers := range [][]crm.Tier{nil, {unmapped}, {{ID: "blank", ShopifyTag: "  "}}} {
		if m, next, err := p.ListMembers(ctx, tiers, ""); m != nil || next != "" || err != nil {
			t.Fatalf("ListMembers(%v): %v %q %v", tiers, m, next, err)
		}
		if m, err := p.CustomerMembers(ctx, c.ID, tiers); m != nil || err != nil {
			t.Fatalf("CustomerMembers(%v): %v %v", tiers, m, err)
		}
	}
	if n := len(fake.Requests()); n != 0 {
		t.Fatalf("%d requests", n)
	}
}
