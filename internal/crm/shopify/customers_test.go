package shopify_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"tiersync/internal/crm"
	"tiersync/internal/crm/shopify"
	"tiersync/internal/crm/shopify/shopifytest"
)

// heard records what the client reports through Config.OnDeprecated and Config.OnNote.
type heard struct {
	mu                sync.Mutex
	deprecated, notes []string
}

func (h *heard) hook(c *shopify.Config) {
	c.OnDeprecated = func(s, op, reason string) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.deprecated = append(h.deprecated, s+" "+op+": "+reason)
	}
	c.OnNote = func(s, op, note string) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.notes = append(h.notes, s+" "+op+": "+note)
	}
}

func (h *heard) get() (deprecated, notes []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string{}, h.deprecated...), append([]string{}, h.notes...)
}

// TestDeprecationHeaderIsReported: the fake marks a version older than DeprecatedBefore
// (four releases before its newest by default), the client reports it through
// OnDeprecated with the operation, and at the pinned version every operation tiersync
// sends is free of deprecated fields (Customer.email is no longer read).
func TestDeprecationHeaderIsReported(t *testing.T) {
	cases := []struct {
		name, version, before string
		want                  bool
	}{
		{"pinned version", shopify.DefaultVersion, "", false},
		{"four releases back is still fine", "2025-10", "", false},
		{"five releases back", "2025-07", "", true},
		{"a stricter fake", "2026-07", "2026-10", true},
		{"unstable is never old", "unstable", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := &heard{}
			fake, p, _ := setup(t, shopifytest.Options{DeprecatedBefore: tc.before}, func(c *shopify.Config) {
				c.Version = tc.version
				h.hook(c)
			})
			ctx := context.Background()
			c := crm.Customer{Email: "dep@example.com", FirstName: "D", LastName: "E", Phone: "+16135550100"}
			id, _, err := p.EnsureCustomer(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			c.CRMID = id
			if _, err := p.AddMembership(ctx, crm.MembershipChange{Customer: c, Tier: gold}); err != nil {
				t.Fatal(err)
			}
			if err := p.CancelMembership(ctx, crm.MembershipChange{Customer: c, Tier: gold}, crm.ReasonExpired); err != nil {
				t.Fatal(err)
			}
			if _, err := p.EnsureWebhooks(ctx, "https://tiersync.example/webhooks/shopify", []string{"orders/paid"}); err != nil {
				t.Fatal(err)
			}
			deprecated, _ := h.get()
			if !tc.want {
				if len(deprecated) != 0 {
					t.Fatalf("deprecations reported: %q", deprecated)
				}
				return
			}
			if len(deprecated) != len(fake.Requests()) {
				t.Fatalf("%d deprecations for %d requests: %q", len(deprecated), len(fake.Requests()), deprecated)
			}
			if want := shop + " find customer: https://shopify.dev/api/usage/versioning#deprecation-practices"; deprecated[0] != want {
				t.Fatalf("first deprecation %q, want %q", deprecated[0], want)
			}
		})
	}
}

// TestSearchPicksTheExactEmail: the search asks for a page of candidates and takes the
// one whose email is the one sought, whatever comes first; with the fake's prefix search
// near-matches made later come first, and enough of them push the customer to a later
// page.
func TestSearchPicksTheExactEmail(t *testing.T) {
	cases := []struct {
		name         string
		mode         shopifytest.SearchMode
		nearMatches  int
		wantSearches int
	}{
		{"exact search", shopifytest.SearchExact, 3, 1},
		{"prefix search, near-matches first", shopifytest.SearchPrefix, 3, 1},
		{"prefix search, the customer on page two", shopifytest.SearchPrefix, 12, 2},
		{"prefix search, the customer on page five", shopifytest.SearchPrefix, 45, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake, p, _ := setup(t, shopifytest.Options{Search: tc.mode}, nil)
			want := fake.AddCustomer(shop, shopifytest.Customer{Email: "Ann@Example.com"})
			for i := range tc.nearMatches {
				fake.AddCustomer(shop, shopifytest.Customer{Email: fmt.Sprintf("ann%d@example.com", i)})
			}
			fake.AddCustomer(shop, shopifytest.Customer{Email: "ann@example.com.au"})
			fake.AddCustomer(shop, shopifytest.Customer{}) // no email at all: defaultEmailAddress null
			id, created, err := p.EnsureCustomer(context.Background(), crm.Customer{Email: "ann@example.com"})
			if err != nil || created || id != want.ID {
				t.Fatalf("got %q created=%v %v, want %s", id, created, err, want.ID)
			}
			searches := 0
			for _, r := range fake.Requests() {
				if r.Operation != "customers" {
					t.Fatalf("unexpected %s", r.Operation)
				}
				searches++
			}
			if searches != tc.wantSearches {
				t.Fatalf("%d searches, want %d", searches, tc.wantSearches)
			}
		})
	}
}

// TestSearchGivesUpAfterFivePages: past 50 near-matches the customer counts as not found;
// the create then meets "Email has already been taken" and the row is retried rather than
// a second customer made.
func TestSearchGivesUpAfterFivePages(t *testing.T) {
	fake, p, _ := setup(t, shopifytest.Options{Search: shopifytest.SearchPrefix}, nil)
	fake.AddCustomer(shop, shopifytest.Customer{Email: "ann@example.com"})
	for i := range 60 {
		fake.AddCustomer(shop, shopifytest.Customer{Email: fmt.Sprintf("ann%d@example.com", i)})
	}
	_, _, err := p.EnsureCustomer(context.Background(), crm.Customer{Email: "ann@example.com", FirstName: "A", LastName: "N"})
	wantErr(t, err, crm.Retryable, "the email is taken")
	if n := len(fake.Customers(shop)); n != 61 {
		t.Fatalf("%d customers, want 61 (none created)", n)
	}
}

// TestPhoneRefusedCreatesWithoutIt: a phone Shopify refuses (not a number, or another
// customer's, under either message) makes the customer without it and says so through
// OnNote; a phone error is never read as an email collision; an email taken together with
// the phone is.
func TestPhoneRefusedCreatesWithoutIt(t *testing.T) {
	cases := []struct {
		name      string
		taken     shopifytest.PhoneTakenMode
		other     *shopifytest.Customer // already in the shop
		phone     string
		wantOps   string
		wantNote  string // "" no note
		wantPhone string // the new customer's phone
	}{
		{name: "valid phone", phone: "(613) 555-0101", wantOps: "customers customerCreate", wantPhone: "+16135550101"},
		{name: "no phone", wantOps: "customers customerCreate"},
		{name: "invalid phone", phone: "555-12", wantOps: "customers customerCreate customerCreate",
			wantNote: "phone: Phone is invalid"},
		{name: "taken phone", phone: "+1 613-555-0102", other: &shopifytest.Customer{Email: "bo@example.com", Phone: "6135550102"},
			wantOps: "customers customerCreate customerCreate", wantNote: "phone: Phone has already been taken"},
		{name: "taken phone answered invalid", taken: shopifytest.PhoneTakenInvalid, phone: "+16135550103",
			other:   &shopifytest.Customer{Email: "bo@example.com", Phone: "+16135550103"},
			wantOps: "customers customerCreate customerCreate", wantNote: "phone: Phone is invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := &heard{}
			fake, p, _ := setup(t, shopifytest.Options{PhoneTaken: tc.taken}, h.hook)
			if tc.other != nil {
				fake.AddCustomer(shop, *tc.other)
			}
			c := crm.Customer{Email: "new@example.com", FirstName: "N", LastName: "W", Phone: tc.phone}
			id, created, err := p.EnsureCustomer(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			var ops []string
			for _, r := range fake.Requests() {
				ops = append(ops, r.Operation)
			}
			if got := strings.Join(ops, " "); got != tc.wantOps {
				t.Fatalf("requests %q, want %q", got, tc.wantOps)
			}
			_, notes := h.get()
			if tc.wantNote == "" && len(notes) > 0 || tc.wantNote != "" && (len(notes) != 1 || !strings.Contains(notes[0], tc.wantNote) ||
				!strings.Contains(notes[0], id) || strings.Contains(notes[0], tc.phone)) {
				t.Fatalf("notes %q, want one naming %s and %q, without the phone", notes, id, tc.wantNote)
			}
			got, ok := fake.Customer(shop, id)
			if !ok || !created || got.Phone != tc.wantPhone || got.Email != c.Email {
				t.Fatalf("customer %+v created=%v, want phone %q", got, created, tc.wantPhone)
			}
		})
	}
}

// TestOtherUserErrorsStayPermanent: an invalid email with an invalid phone is not a
// phone-only refusal: no second create, the row fails with both messages.
func TestOtherUserErrorsStayPermanent(t *testing.T) {
	fake, p, _ := setup(t, shopifytest.Options{}, nil)
	_, _, err := p.EnsureCustomer(context.Background(), crm.Customer{Email: "not-an-email", Phone: "x", FirstName: "X", LastName: "Y"})
	wantErr(t, err, crm.Permanent, "email: Email is invalid; phone: Phone is invalid")
	if n := len(fake.Requests()); n != 2 {
		t.Fatalf("%d requests, want search and one create", n)
	}
}

// TestEmailAndPhoneTakenIsTheEmailCase: a retry after a lost answer meets its own
// customer's email and phone, both taken. That is the email case (read the customer
// again), not a phone to drop: no second customer, no note.
func TestEmailAndPhoneTakenIsTheEmailCase(t *testing.T) {
	for _, mode := range []shopifytest.PhoneTakenMode{shopifytest.PhoneTakenMessage, shopifytest.PhoneTakenInvalid} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			h := &heard{}
			fake, p, _ := setup(t, shopifytest.Options{SearchLag: 1, PhoneTaken: mode}, h.hook)
			c := crm.Customer{Email: "new@example.com", FirstName: "N", LastName: "W", Phone: "+16135550104"}
			fake.Inject(shopifytest.Fault{Operation: "customerCreate", Kind: shopifytest.FaultLoseAnswer})
			if _, _, err := p.EnsureCustomer(context.Background(), c); err == nil {
				t.Fatal("the lost answer was not an error")
			}
			id, created, err := p.EnsureCustomer(context.Background(), c)
			if err != nil || created {
				t.Fatalf("retry: %q created=%v %v", id, created, err)
			}
			if all := fake.Customers(shop); len(all) != 1 || all[0].ID != id || all[0].Phone != c.Phone {
				t.Fatalf("customers %+v, id %q", all, id)
			}
			var ops []string
			for _, r := range fake.Requests() {
				ops = append(ops, r.Operation)
			}
			if got := strings.Join(ops, " "); got != "customers customerCreate customers customerCreate customers" {
				t.Fatalf("requests: %s", got)
			}
			if _, notes := h.get(); len(notes) != 0 {
				t.Fatalf("notes %q", notes)
			}
		})
	}
}
