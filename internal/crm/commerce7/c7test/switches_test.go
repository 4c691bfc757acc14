package c7test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Tests of the behaviours Commerce7 was checked for in review, and of the switches for
// those no public source confirms.

func startWith(t *testing.T, clk *clock, opts func(*Options)) (*Fake, string) {
	t.Helper()
	o := Options{AppID: "app", AppSecret: "secret", Tenants: []string{"napa"}, RateLimit: -1, Now: clk.now}
	if opts != nil {
		opts(&o)
	}
	f, base := Start(t, o)
	f.AddClub("napa", "club-gold")
	return f, base
}

func TestIgnoreCustomerFilter(t *testing.T) {
	for _, ignored := range []bool{false, true} {
		t.Run(fmt.Sprint("ignored=", ignored), func(t *testing.T) {
			f, base := startWith(t, &clock{t: time.Now()}, func(o *Options) { o.IgnoreCustomerFilter = ignored })
			a := f.AddCustomer("napa", Customer{FirstName: "A", LastName: "A", Emails: []string{"a@example.com"}})
			b := f.AddCustomer("napa", Customer{FirstName: "B", LastName: "B", Emails: []string{"b@example.com"}})
			f.AddMembership("napa", Membership{CustomerID: a.ID, ClubID: "club-gold", OrderDeliveryMethod: "Pickup"})
			r := do(t, base, call{method: "GET", path: "/club-membership?customerId=" + b.ID})
			want := map[bool]int{false: 0, true: 1}[ignored]
			if got := len(r.body["clubMemberships"].([]any)); r.status != 200 || got != want || r.body["total"] != float64(want) {
				t.Fatalf("B's listing: %d %v, want %d membership(s)", r.status, r.body, want)
			}
		})
	}
}

func TestRequireCard(t *testing.T) {
	cases := []struct {
		name    string
		require bool
		card    string // "own", "other's", ""
		status  int
		message string
	}{
		{"not required, no card", false, "", 201, ""},
		{"not required, any card id", false, "other's", 201, ""},
		{"required, own card", true, "own", 201, ""},
		{"required, no card", true, "", 422, "A credit card on file is required"},
		{"required, another customer's card", true, "other's", 422, "Credit card not found for this customer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, base := startWith(t, &clock{t: time.Now()}, func(o *Options) { o.RequireCard = tc.require })
			a := f.AddCustomer("napa", Customer{FirstName: "A", LastName: "A", Emails: []string{"a@example.com"}})
			b := f.AddCustomer("napa", Customer{FirstName: "B", LastName: "B", Emails: []string{"b@example.com"}})
			cards := map[string]string{"own": f.AddCreditCard("napa", CreditCard{CustomerID: a.ID}).ID,
				"other's": f.AddCreditCard("napa", CreditCard{CustomerID: b.ID}).ID}
			body := fmt.Sprintf(`{"customerId":%q,"clubId":"club-gold","orderDeliveryMethod":"Pickup","pickupInventoryLocationId":"loc-1","customerCreditCardId":%q}`, a.ID, cards[tc.card])
			r := do(t, base, call{method: "POST", path: "/club-membership", body: body})
			if r.status != tc.status || !strings.Contains(fmt.Sprint(r.body["errors"]), tc.message) {
				t.Fatalf("%d %v, want %d %q", r.status, r.body, tc.status, tc.message)
			}
			if tc.status == 422 && (r.body["type"] != "validationError" || !strings.Contains(fmt.Sprint(r.body["errors"]), "customerCreditCardId")) {
				t.Fatalf("error body %v lacks Commerce7's shape", r.body)
			}
		})
	}
}

func TestCreditCards(t *testing.T) {
	f, base := startWith(t, &clock{t: time.Now()}, nil)
	c := f.AddCustomer("napa", Customer{FirstName: "A", LastName: "A", Emails: []string{"a@example.com"}})
	if r := do(t, base, call{method: "GET", path: "/customer/nobody/credit-card"}); r.status != 404 {
		t.Fatalf("cards of an unknown customer: %d", r.status)
	}
	first := f.AddCreditCard("napa", CreditCard{CustomerID: c.ID})
	// The control API gives a card the same way (outside test suites, the demo).
	r := do(t, strings.TrimSuffix(base, "/v1"), call{method: "POST", path: "/_fake/commerce7/credit-cards", body: fmt.Sprintf(`{"tenant":"napa","customerId":%q,"isDefault":true}`, c.ID)})
	if r.status != 200 || r.body["isDefault"] != true {
		t.Fatalf("control API: %d %v", r.status, r.body)
	}
	second, _ := r.body["id"].(string)
	r = do(t, base, call{method: "GET", path: "/customer/" + c.ID + "/credit-card"})
	cards, _ := r.body["customerCreditCards"].([]any)
	if r.status != 200 || len(cards) != 2 || r.body["total"] != float64(2) {
		t.Fatalf("list: %d %v", r.status, r.body)
	}
	for _, x := range cards {
		card := x.(map[string]any)
		if (card["id"] == second) != (card["isDefault"] == true) || card["id"] != first.ID && card["id"] != second {
			t.Fatalf("cards %v: only %s is the default", cards, second)
		}
	}
}

func TestScheduledCancellation(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name       string
		cancelDate string
		wantNow    string // the status right after the PUT
		until      time.Duration
	}{
		{"today ends now", "2026-11-25T00:00:00Z", "Cancelled", 0},
		{"the past ends now", "2026-11-01", "Cancelled", 0},
		{"tomorrow stays Active until the day is over", "2026-11-26T08:00:00Z", "Active", 36 * time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: now}
			f, base := startWith(t, clk, nil)
			c := f.AddCustomer("napa", Customer{FirstName: "A", LastName: "A", Emails: []string{"a@example.com"}})
			m := f.AddMembership("napa", Membership{CustomerID: c.ID, ClubID: "club-gold", OrderDeliveryMethod: "Pickup"})
			r := do(t, base, call{method: "PUT", path: "/club-membership/" + m.ID, body: fmt.Sprintf(`{"cancelDate":%q,"cancellationReason":"Other"}`, tc.cancelDate)})
			if r.status != 200 || r.body["status"] != tc.wantNow || r.body["cancelDate"] == nil {
				t.Fatalf("PUT: %d %v, want %s", r.status, r.body, tc.wantNow)
			}
			if tc.until == 0 {
				return
			}
			clk.add(tc.until - time.Second)
			if r := do(t, base, call{method: "GET", path: "/club-membership/" + m.ID}); r.body["status"] != "Active" {
				t.Fatalf("a second before the end: %v", r.body)
			}
			clk.add(time.Second)
			if r := do(t, base, call{method: "GET", path: "/club-membership/" + m.ID}); r.body["status"] != "Cancelled" {
				t.Fatalf("at the end: %v", r.body)
			}
			if got := f.Memberships("napa", c.ID)[0]; got.Status != "Cancelled" {
				t.Fatalf("seen by the test: %+v", got)
			}
		})
	}
}

func TestClearingACancelDate(t *testing.T) {
	cases := []struct {
		mode      ClearMode
		status    int
		wantClear bool
	}{{ClearRemoves, 200, true}, {ClearIgnored, 200, false}, {ClearRefused, 422, false}}
	for _, tc := range cases {
		t.Run(fmt.Sprint("mode ", tc.mode), func(t *testing.T) {
			clk := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
			f, base := startWith(t, clk, func(o *Options) { o.CancelDateClear = tc.mode })
			c := f.AddCustomer("napa", Customer{FirstName: "A", LastName: "A", Emails: []string{"a@example.com"}})
			later := clk.now().AddDate(0, 1, 0)
			m := f.AddMembership("napa", Membership{CustomerID: c.ID, ClubID: "club-gold", OrderDeliveryMethod: "Pickup", CancelDate: &later, CancellationReason: "Moving"})
			r := do(t, base, call{method: "PUT", path: "/club-membership/" + m.ID, body: `{"cancelDate":null,"cancellationReason":null}`})
			if r.status != tc.status {
				t.Fatalf("clear: %d %v", r.status, r.body)
			}
			got := f.Memberships("napa", c.ID)[0]
			if got.Status != "Active" || (got.CancelDate == nil) != tc.wantClear {
				t.Fatalf("after the clear: %+v", got)
			}
			// Removed, the schedule no longer ends it.
			clk.add(60 * 24 * time.Hour)
			if got := f.Memberships("napa", c.ID)[0]; (got.Status == "Active") != tc.wantClear {
				t.Fatalf("after the old date: %+v", got)
			}
		})
	}
	for _, s := range []string{"removes", "ignored", "refused", "nope"} {
		if _, err := ParseClearMode(s); (err != nil) != (s == "nope") {
			t.Errorf("ParseClearMode(%q): %v", s, err)
		}
	}
}

// TestClubFilter checks GET /club-membership?clubId=, alone and with customerId, paged, in
// both positions of IgnoreClubFilter (an API that ignores it lists the whole tenant,
// through the customer filter when there is one).
func TestClubFilter(t *testing.T) {
	cases := []struct {
		name    string
		ignored bool
		query   func(ann string) string
		total   int
	}{
		{"club", false, func(string) string { return "clubId=club-gold" }, 60},
		{"club ignored", true, func(string) string { return "clubId=club-gold" }, 75},
		{"club and customer", false, func(ann string) string { return "clubId=club-gold&customerId=" + ann }, 55},
		{"club ignored, customer honoured", true, func(ann string) string { return "clubId=club-gold&customerId=" + ann }, 60},
		{"unknown club", false, func(string) string { return "clubId=club-tin" }, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, base := startWith(t, &clock{t: time.Now()}, func(o *Options) { o.IgnoreClubFilter = tc.ignored })
			ann := f.AddCustomer("napa", Customer{FirstName: "Ann", LastName: "A", Emails: []string{"ann@example.com"}})
			bo := f.AddCustomer("napa", Customer{FirstName: "Bo", LastName: "B", Emails: []string{"bo@example.com"}})
			// Ann: 55 Gold (one live, the rest cancelled) and 5 Silver; Bo: 5 Gold, 10 Silver.
			for i := 0; i < 55; i++ {
				status := "Cancelled"
				if i == 0 {
					status = "Active"
				}
				f.AddMembership("napa", Membership{CustomerID: ann.ID, ClubID: "club-gold", Status: status, OrderDeliveryMethod: "Pickup"})
			}
			for i := 0; i < 5; i++ {
				f.AddMembership("napa", Membership{CustomerID: ann.ID, ClubID: "club-silver", Status: "Cancelled", OrderDeliveryMethod: "Pickup"})
				f.AddMembership("napa", Membership{CustomerID: bo.ID, ClubID: "club-gold", Status: "Cancelled", OrderDeliveryMethod: "Pickup"})
				f.AddMembership("napa", Membership{CustomerID: bo.ID, ClubID: "club-silver", Status: "Cancelled", OrderDeliveryMethod: "Pickup"})
				f.AddMembership("napa", Membership{CustomerID: bo.ID, ClubID: "club-silver", Status: "Cancelled", OrderDeliveryMethod: "Pickup"})
			}
			seen, clubs := 0, map[string]int{}
			for p := 1; p <= 3; p++ {
				r := do(t, base, call{method: "GET", path: fmt.Sprintf("/club-membership?%s&page=%d", tc.query(ann.ID), p)})
				items := r.body["clubMemberships"].([]any)
				if want := min(50, max(0, tc.total-(p-1)*50)); r.status != 200 || len(items) != want || r.body["total"] != float64(tc.total) {
					t.Fatalf("page %d: %d, %d items, total %v; want %d of %d", p, r.status, len(items), r.body["total"], want, tc.total)
				}
				for _, x := range items {
					clubs[x.(map[string]any)["clubId"].(string)]++
				}
				seen += len(items)
			}
			if seen != tc.total {
				t.Fatalf("%d memberships over the pages, want %d", seen, tc.total)
			}
			if !tc.ignored && len(clubs) > 1 {
				t.Fatalf("clubs listed %v, want Gold only", clubs)
			}
		})
	}
}
