package commerce7_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"tiersync/internal/crm"
	"tiersync/internal/crm/commerce7"
	"tiersync/internal/crm/commerce7/c7test"
)

// Tests of the bulk reads for reconciliation (list.go), over real HTTP against the fake,
// with each position of the fake's switch for the unconfirmed clubId filter.

// unmapped is a club of the tenant that no tier maps; shopifyOnly is a tier without a club.
const unmapped = "club-bronze"

var shopifyOnly = crm.Tier{ID: "tier-tag", Name: "Tagged", ShopifyTag: "vip"}

// listed is one member as a reconciliation stores it.
type listed struct{ customer, tier, membership string }

// lister is a fake Commerce7 on a settable clock, and a way to make providers for it: each
// one a new client, as a process started after a crash would make.
type lister struct {
	fake *c7test.Fake
	clk  *clock
	lim  *countingLimiter
	url  string
}

func newLister(t *testing.T, opts func(*c7test.Options)) *lister {
	t.Helper()
	l := &lister{clk: &clock{t: start}, lim: &countingLimiter{}}
	o := c7test.Options{AppID: appID, AppSecret: secret, Tenants: []string{tenant}, RateLimit: -1, Now: l.clk.now}
	if opts != nil {
		opts(&o)
	}
	l.fake, l.url = c7test.Start(t, o)
	for _, club := range []string{gold.C7ClubID, platinum.C7ClubID, unmapped} {
		l.fake.AddClub(tenant, club)
	}
	return l
}

// provider is a fresh client's provider for the tenant, taking tokens from l.lim.
func (l *lister) provider(t *testing.T) *commerce7.Provider {
	t.Helper()
	c, err := commerce7.New(commerce7.Config{BaseURL: l.url, AppID: appID, Key: secret, Timeout: 5 * time.Second,
		Limiter: l.lim, Now: l.clk.now})
	if err != nil {
		t.Fatal(err)
	}
	return c.Provider("client-1", tenant)
}

// queries are the query strings of the listing requests from the from-th request on.
func (l *lister) queries(t *testing.T, from int) []string {
	t.Helper()
	var qs []string
	for _, r := range l.fake.Requests()[from:] {
		if r.Method != http.MethodGet || r.Path != "/club-membership" {
			t.Fatalf("request %s %s?%s, want a listing", r.Method, r.Path, r.RawQuery)
		}
		qs = append(qs, r.RawQuery)
	}
	return qs
}

func (l *lister) add(customer, club, status string, cancel *time.Time) listed {
	m := l.fake.AddMembership(tenant, c7test.Membership{CustomerID: customer, ClubID: club, Status: status,
		OrderDeliveryMethod: "Pickup", CancelDate: cancel})
	return listed{customer: customer, membership: m.ID}
}

// seed gives the tenant 67 Gold memberships (60 live, 2 of them On Hold; 5 cancelled; one
// whose cancel date passed an hour ago, still Active in Commerce7 until the day is over;
// one ending tomorrow, live), 45 live Platinum ones (20 of them of Gold members) and 3 live
// ones in a club no tier maps, interleaved in creation order as a winery's would be. It
// returns the live members of Gold and Platinum.
func (l *lister) seed(t *testing.T) map[listed]bool {
	t.Helper()
	want := map[listed]bool{}
	customer := func(i int) string {
		return l.fake.AddCustomer(tenant, c7test.Customer{FirstName: "C", LastName: fmt.Sprint(i),
			Emails: []string{fmt.Sprintf("c%d@example.com", i)}}).ID
	}
	ids := make([]string, 90)
	for i := range ids {
		ids[i] = customer(i)
	}
	hourAgo, tomorrow := start.Add(-time.Hour), start.Add(24*time.Hour)
	for i := 0; i < 60; i++ {
		if i < 5 {
			l.add(ids[i], gold.C7ClubID, "Cancelled", nil) // an earlier membership, over
		}
		status := "Active"
		if i%30 == 7 {
			status = "On Hold"
		}
		m := l.add(ids[i], gold.C7ClubID, status, nil)
		m.tier = gold.ID
		want[m] = true
		if i >= 40 {
			m := l.add(ids[i], platinum.C7ClubID, "Active", nil)
			m.tier = platinum.ID
			want[m] = true
		}
		if i%20 == 0 {
			l.add(ids[i], unmapped, "Active", nil)
		}
	}
	for i := 60; i < 85; i++ {
		m := l.add(ids[i], platinum.C7ClubID, "Active", nil)
		m.tier = platinum.ID
		want[m] = true
	}
	l.add(ids[85], gold.C7ClubID, "Active", &hourAgo)
	m := l.add(ids[86], gold.C7ClubID, "Active", &tomorrow)
	m.tier = gold.ID
	want[m] = true
	if len(want) != 106 {
		t.Fatalf("seeded %d live members, want 106", len(want))
	}
	return want
}

var tiers = []crm.Tier{platinum, shopifyOnly, gold} // any order: the listing sorts the clubs

// page calls ListMembers once and adds its members to got.
func page(t *testing.T, p *commerce7.Provider, tiers []crm.Tier, cursor string, got map[listed]int) string {
	t.Helper()
	members, next, err := p.ListMembers(context.Background(), tiers, cursor)
	if err != nil {
		t.Fatalf("ListMembers(%q): %v", cursor, err)
	}
	for _, m := range members {
		if m.Email != "" || m.TierNote != "" {
			t.Fatalf("member %+v: Commerce7's listing carries no email nor tier note", m)
		}
		got[listed{m.CustomerID, m.TierID, m.MembershipID}]++
	}
	return next
}

// all lists from cursor to the end, a fresh provider for each page when fresh is set.
func (l *lister) all(t *testing.T, p *commerce7.Provider, tiers []crm.Tier, cursor string, fresh bool, got map[listed]int) {
	t.Helper()
	for calls := 0; ; calls++ {
		if calls > 20 {
			t.Fatal("the listing did not end after 20 calls")
		}
		if fresh {
			p = l.provider(t)
		}
		if cursor = page(t, p, tiers, cursor, got); cursor == "" {
			return
		}
	}
}

func once(t *testing.T, got map[listed]int, want map[listed]bool) {
	t.Helper()
	for m, n := range got {
		if !want[m] || n != 1 {
			t.Errorf("member %+v listed %d times; wanted: %v", m, n, want[m])
		}
	}
	for m := range want {
		if got[m] == 0 {
			t.Errorf("member %+v not listed", m)
		}
	}
}

func gold1(page int) string     { return fmt.Sprintf("clubId=%s&page=%d", gold.C7ClubID, page) }
func platinum1(page int) string { return fmt.Sprintf("clubId=%s&page=%d", platinum.C7ClubID, page) }

var filterCases = []struct {
	name    string
	ignored bool
	queries []string // the requests of a whole listing
}{
	// Gold's 67 memberships are two pages, Platinum's 45 one.
	{"club filter honoured", false, []string{gold1(1), gold1(2), platinum1(1)}},
	// Every listing is the tenant's 115 memberships: Gold's pass sees the other clubs on its
	// first page, lists every mapped club's members, and is the only pass.
	{"club filter ignored", true, []string{gold1(1), gold1(2), gold1(3)}},
}

// TestListMembers lists 106 live members of two clubs over several pages: each once, and
// no cancelled one, none of a club no tier maps, none whose cancel date has passed. Both
// positions of the switch give the same members; each page is one request and one token.
func TestListMembers(t *testing.T) {
	for _, tc := range filterCases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLister(t, func(o *c7test.Options) { o.IgnoreClubFilter = tc.ignored })
			want := l.seed(t)
			got := map[listed]int{}
			l.all(t, l.provider(t), tiers, "", false, got)
			once(t, got, want)
			if qs := l.queries(t, 0); !reflect.DeepEqual(qs, tc.queries) {
				t.Fatalf("requests %q, want %q", qs, tc.queries)
			}
			if n := l.lim.n.Load(); n != int64(len(tc.queries)) || l.lim.client.Load() != "client-1" {
				t.Fatalf("%d tokens (client %v) for %d requests", n, l.lim.client.Load(), len(tc.queries))
			}
		})
	}
}

// TestListMembersResumesInAFreshProvider stops a listing after each of its pages and
// carries it on from the cursor in new clients: the same requests as one uninterrupted
// listing (no page lost, none read twice) and the same members.
func TestListMembersResumesInAFreshProvider(t *testing.T) {
	for _, tc := range filterCases {
		for stop := 1; stop < len(tc.queries); stop++ {
			t.Run(fmt.Sprintf("%s, stopped after page %d", tc.name, stop), func(t *testing.T) {
				l := newLister(t, func(o *c7test.Options) { o.IgnoreClubFilter = tc.ignored })
				want := l.seed(t)
				got, cursor := map[listed]int{}, ""
				p := l.provider(t)
				for i := 0; i < stop; i++ {
					cursor = page(t, p, tiers, cursor, got)
				}
				if cursor == "" {
					t.Fatalf("the listing ended after %d pages", stop)
				}
				l.all(t, nil, tiers, cursor, true, got)
				once(t, got, want)
				if qs := l.queries(t, 0); !reflect.DeepEqual(qs, tc.queries) {
					t.Fatalf("requests %q, want %q", qs, tc.queries)
				}
			})
		}
	}
}

// TestListMembersAfterATierIsUnmapped resumes from a cursor whose club no tier maps any
// more: a listing carries on with the next mapped club after it, and a pass over the
// tenant (the filter ignored) carries on where it was.
func TestListMembersAfterATierIsUnmapped(t *testing.T) {
	cases := []struct {
		name    string
		ignored bool
		before  int        // pages read with both tiers mapped
		after   []crm.Tier // the tiers mapped then
		queries []string   // the requests after the change
	}{
		{"Gold unmapped during Gold's listing", false, 1, []crm.Tier{platinum}, []string{platinum1(1)}},
		{"Platinum unmapped as its listing begins", false, 2, []crm.Tier{gold}, nil},
		{"Gold unmapped during a pass over the tenant", true, 1, []crm.Tier{platinum}, []string{platinum1(2), platinum1(3)}},
		{"Gold unmapped before the last page of a pass", true, 2, []crm.Tier{platinum}, []string{platinum1(3)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLister(t, func(o *c7test.Options) { o.IgnoreClubFilter = tc.ignored })
			want := l.seed(t)
			got, cursor := map[listed]int{}, ""
			p := l.provider(t)
			for i := 0; i < tc.before; i++ {
				cursor = page(t, p, tiers, cursor, got)
			}
			l.all(t, nil, tc.after, cursor, true, got)
			if qs := l.queries(t, tc.before); !reflect.DeepEqual(qs, tc.queries) {
				t.Fatalf("requests after the change %q, want %q", qs, tc.queries)
			}
			// Every member of the tiers still mapped was listed, before or after the change.
			kept := map[listed]bool{}
			for m := range want {
				if m.tier == tc.after[0].ID {
					kept[m] = true
				}
			}
			for m := range got {
				if m.tier != tc.after[0].ID {
					delete(got, m)
				}
			}
			once(t, got, kept)
		})
	}
}

// TestListMembersRefusesAMalformedCursor: a cursor ListMembers did not hand out is an
// error, before any request.
func TestListMembersRefusesAMalformedCursor(t *testing.T) {
	l := newLister(t, nil)
	p := l.provider(t)
	for _, cursor := range []string{
		"garbage", "null", "[]", "{}", `{"club":"club-gold"}`, `{"club":"club-gold","page":0}`,
		`{"club":"club-gold","page":-3}`, `{"club":"","page":1}`, `{"club":"club-gold","page":1.5}`,
		`{"club":"club-gold","page":"2"}`, `{"club":"club-gold","page":2,"offset":9}`,
		`{"club":"club-gold","page":2}{}`, `{"club":"club-gold","page":2`, "\x00\xff",
	} {
		t.Run(cursor, func(t *testing.T) {
			members, next, err := p.ListMembers(context.Background(), tiers, cursor)
			if members != nil || next != "" {
				t.Fatalf("answered %v, %q", members, next)
			}
			wantErr(t, err, crm.Permanent, 0, "malformed listing cursor")
		})
	}
	if n := len(l.fake.Requests()); n != 0 {
		t.Fatalf("%d requests, want none", n)
	}
}

// TestListMembersEndsARunawayListing: an API that keeps answering full pages of a club is
// an error naming the club after 20 000 pages, not an endless listing.
func TestListMembersEndsARunawayListing(t *testing.T) {
	l := newLister(t, nil)
	p := l.provider(t)
	var full []map[string]any
	for i := 0; i < 50; i++ {
		full = append(full, map[string]any{"id": fmt.Sprintf("m-%d", i), "customerId": fmt.Sprintf("c-%d", i),
			"clubId": gold.C7ClubID, "status": "Active", "cancelDate": nil})
	}
	body, err := json.Marshal(map[string]any{"clubMemberships": full, "total": 1_000_000_000})
	if err != nil {
		t.Fatal(err)
	}
	l.fake.Inject(c7test.Fault{Method: http.MethodGet, Path: "/club-membership", Kind: c7test.FaultStatus, Status: 200, RawBody: string(body)})
	members, next, err := p.ListMembers(context.Background(), tiers, `{"club":"club-gold","page":20000}`)
	if err != nil || len(members) != 50 || next == "" {
		t.Fatalf("page 20 000: %d members, next %q, %v", len(members), next, err)
	}
	_, _, err = p.ListMembers(context.Background(), tiers, next)
	wantErr(t, err, crm.Permanent, 0, "the listing of club club-gold did not end after 20000 pages")
	if n := len(l.fake.Requests()); n != 1 {
		t.Fatalf("%d requests, want only page 20 000's", n)
	}
}

// TestListMembersUnderTheRateLimit: a refused page (429) is an error that says when to
// come back, and the same cursor then reads it; nothing is lost.
func TestListMembersUnderTheRateLimit(t *testing.T) {
	l := newLister(t, func(o *c7test.Options) { o.RateLimit = 2 })
	want := l.seed(t)
	p := l.provider(t)
	got, cursor := map[listed]int{}, ""
	for i := 0; i < 2; i++ {
		cursor = page(t, p, tiers, cursor, got)
	}
	_, _, err := p.ListMembers(context.Background(), tiers, cursor)
	if e := wantErr(t, err, crm.Throttled, 429, "Too many requests"); e.RetryAfter <= 0 {
		t.Fatalf("retry after %v, want a wait", e.RetryAfter)
	}
	l.clk.add(time.Minute)
	l.all(t, p, tiers, cursor, false, got)
	once(t, got, want)
	if n, requests := l.lim.n.Load(), len(l.fake.Requests()); n != int64(requests) || requests != 4 {
		t.Fatalf("%d tokens for %d requests, want 4 of each (one of them refused)", n, requests)
	}
}

// refusingLimiter never hands out a token.
type refusingLimiter struct{}

func (refusingLimiter) Take(context.Context, string) error { return errors.New("queue stopping") }

// TestListingWithoutATokenSendsNothing: each bulk read waits for its token first, and
// sends no request without one.
func TestListingWithoutATokenSendsNothing(t *testing.T) {
	l := newLister(t, nil)
	l.seed(t)
	c, err := commerce7.New(commerce7.Config{BaseURL: l.url, AppID: appID, Key: secret, Limiter: refusingLimiter{}})
	if err != nil {
		t.Fatal(err)
	}
	p := c.Provider("client-1", tenant)
	ctx := context.Background()
	_, _, err = p.ListMembers(ctx, tiers, "")
	wantErr(t, err, crm.Retryable, 0, "queue stopping")
	_, err = p.CustomerMembers(ctx, "c-1", tiers)
	wantErr(t, err, crm.Retryable, 0, "queue stopping")
	_, err = p.CustomerEmail(ctx, "c-1")
	wantErr(t, err, crm.Retryable, 0, "queue stopping")
	if n := len(l.fake.Requests()); n != 0 {
		t.Fatalf("%d requests without a token", n)
	}
}

// TestListingWithoutClubs: tiers that map no club (a Shopify client's) list nothing and
// ask Commerce7 nothing; a club mapped by two tiers is an error.
func TestListingWithoutClubs(t *testing.T) {
	l := newLister(t, nil)
	p := l.provider(t)
	ctx := context.Background()
	for _, ts := range [][]crm.Tier{nil, {shopifyOnly}} {
		if members, next, err := p.ListMembers(ctx, ts, ""); members != nil || next != "" || err != nil {
			t.Fatalf("ListMembers(%v): %v %q %v", ts, members, next, err)
		}
		if members, err := p.CustomerMembers(ctx, "c-1", ts); members != nil || err != nil {
			t.Fatalf("CustomerMembers(%v): %v %v", ts, members, err)
		}
	}
	twice := gold
	twice.ID = "tier-gold-2"
	_, _, err := p.ListMembers(ctx, []crm.Tier{gold, twice}, "")
	wantErr(t, err, crm.Permanent, 0, "club club-gold is mapped by two tiers")
	if n := len(l.fake.Requests()); n != 0 {
		t.Fatalf("%d requests, want none", n)
	}
}

// TestCustomerMembers reads one customer's live members of the mapped clubs, whether or
// not Commerce7 honours the customerId filter.
func TestCustomerMembers(t *testing.T) {
	for _, ignored := range []bool{false, true} {
		t.Run(fmt.Sprint("customer filter ignored=", ignored), func(t *testing.T) {
			l := newLister(t, func(o *c7test.Options) { o.IgnoreCustomerFilter = ignored })
			p := l.provider(t)
			ann := l.fake.AddCustomer(tenant, c7test.Customer{FirstName: "Ann", LastName: "A", Emails: []string{"ann@example.com"}}).ID
			bo := l.fake.AddCustomer(tenant, c7test.Customer{FirstName: "Bo", LastName: "B", Emails: []string{"bo@example.com"}}).ID
			cy := l.fake.AddCustomer(tenant, c7test.Customer{FirstName: "Cy", LastName: "C", Emails: []string{"cy@example.com"}}).ID
			hourAgo := start.Add(-time.Hour)
			annGold := l.add(ann, gold.C7ClubID, "On Hold", nil)
			l.add(ann, platinum.C7ClubID, "Cancelled", nil)
			l.add(ann, platinum.C7ClubID, "Active", &hourAgo) // ended an hour ago, Active until midnight
			l.add(ann, unmapped, "Active", nil)
			boPlatinum := l.add(bo, platinum.C7ClubID, "Active", nil)
			cases := []struct {
				customer string
				want     []crm.Member
			}{
				{ann, []crm.Member{{CustomerID: ann, TierID: gold.ID, MembershipID: annGold.membership}}},
				{bo, []crm.Member{{CustomerID: bo, TierID: platinum.ID, MembershipID: boPlatinum.membership}}},
				{cy, nil},
			}
			for _, c := range cases {
				got, err := p.CustomerMembers(context.Background(), c.customer, tiers)
				if err != nil || !reflect.DeepEqual(got, c.want) {
					t.Fatalf("CustomerMembers(%s): %+v %v, want %+v", c.customer, got, err, c.want)
				}
			}
			for _, r := range l.fake.Requests() {
				if r.Path != "/club-membership" || !strings.Contains(r.RawQuery, "customerId=") {
					t.Fatalf("request %s?%s, want the per-customer listing", r.Path, r.RawQuery)
				}
			}
			if n, requests := l.lim.n.Load(), len(l.fake.Requests()); n != int64(requests) || requests != len(cases) {
				t.Fatalf("%d tokens for %d requests, want %d of each", n, requests, len(cases))
			}
			_, err := p.CustomerMembers(context.Background(), "", tiers)
			wantErr(t, err, crm.Permanent, 0, "no customer id")
		})
	}
}

func TestCustomerEmail(t *testing.T) {
	l := newLister(t, nil)
	p := l.provider(t)
	two := l.fake.AddCustomer(tenant, c7test.Customer{FirstName: "T", LastName: "W", Emails: []string{"first@example.com", "second@example.com"}}).ID
	none := l.fake.AddCustomer(tenant, c7test.Customer{FirstName: "N", LastName: "O"}).ID
	cases := []struct {
		name, id, want string
		status         int    // an error's status; 0: no error
		message        string // a substring of the error
	}{
		{"the first of two", two, "first@example.com", 0, ""},
		{"none", none, "", 0, ""},
		{"unknown customer", "nobody", "", 404, "Customer not found"},
		{"no id", "", "", 0, "no customer id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := p.CustomerEmail(context.Background(), c.id)
			if c.message != "" {
				wantErr(t, err, crm.Permanent, c.status, c.message)
			} else if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("email %q, want %q", got, c.want)
			}
		})
	}
	if n, requests := l.lim.n.Load(), len(l.fake.Requests()); n != int64(requests) || requests != 3 {
		t.Fatalf("%d tokens for %d requests, want 3 of each (none for an empty id)", n, requests)
	}
}
