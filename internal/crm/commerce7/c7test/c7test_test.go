package c7test

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

type call struct {
	method, path, body string
	user, pass, tenant string // defaults: the right ones
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
}

func do(t *testing.T, base string, c call) reply {
	t.Helper()
	req, _ := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
	if c.user != "-" {
		user, pass := "app", "secret"
		if c.user != "" {
			user, pass = c.user, c.pass
		}
		req.SetBasicAuth(user, pass)
	}
	switch c.tenant {
	case "-":
	case "":
		req.Header.Set("tenant", "napa")
	default:
		req.Header.Set("tenant", c.tenant)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	r := reply{status: resp.StatusCode, header: resp.Header}
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %s", c.method, c.path, raw)
		}
	}
	return r
}

func start(t *testing.T, clk *clock, rate int) (*Fake, string) {
	opts := Options{AppID: "app", AppSecret: "secret", Tenants: []string{"napa"}, RateLimit: rate}
	if clk != nil {
		opts.Now = clk.now
	}
	f, base := Start(t, opts)
	f.AddClub("napa", "club-gold")
	return f, base
}

func TestAPI(t *testing.T) {
	f, base := start(t, nil, -1)
	ada := f.AddCustomer("napa", Customer{FirstName: "Ada", LastName: "Lovelace", Emails: []string{"ada@example.com"}})
	home := f.AddAddress("napa", Address{CustomerID: ada.ID, Address: "1 Vine St", City: "Napa", StateCode: "CA", ZipCode: "94558", CountryCode: "US"})
	bo := f.AddCustomer("napa", Customer{FirstName: "Bo", LastName: "Smith", Emails: []string{"bo@example.com"}})
	boAddr := f.AddAddress("napa", Address{CustomerID: bo.ID, Address: "2 Oak St", City: "Napa", StateCode: "CA", ZipCode: "94558", CountryCode: "US"})
	// On Hold is as live as Active: Bo may not join the club a second time either.
	f.AddMembership("napa", Membership{CustomerID: bo.ID, ClubID: "club-gold", Status: "On Hold", OrderDeliveryMethod: "Pickup"})
	member := func(extra string) string {
		return fmt.Sprintf(`{"customerId":%q,"clubId":"club-gold","orderDeliveryMethod":"Ship","shipToCustomerAddressId":%q%s}`, ada.ID, home.ID, extra)
	}
	cases := []struct {
		name    string
		call    call
		status  int
		message string // a substring of the message or of one of the errors
	}{
		{"no auth", call{method: "GET", path: "/customer?q=a", user: "-"}, 401, "Invalid credentials"},
		{"wrong secret", call{method: "GET", path: "/customer?q=a", user: "app", pass: "nope"}, 401, "Invalid credentials"},
		{"no tenant", call{method: "GET", path: "/customer?q=a", tenant: "-"}, 400, "Tenant header is required"},
		{"unknown tenant", call{method: "GET", path: "/customer?q=a", tenant: "sonoma"}, 401, "Invalid tenant"},
		{"unknown route", call{method: "GET", path: "/wine"}, 404, "No route"},
		{"malformed JSON", call{method: "POST", path: "/customer", body: "{"}, 400, "Malformed JSON"},
		{"unknown method", call{method: "DELETE", path: "/customer/" + ada.ID}, 404, "No route"},
		{"customer without a first name", call{method: "POST", path: "/customer", body: `{"lastName":"X","emails":[{"email":"x@example.com"}]}`}, 422, "firstName is required"},
		{"customer without a last name", call{method: "POST", path: "/customer", body: `{"firstName":"X","emails":[{"email":"x@example.com"}]}`}, 422, "lastName is required"},
		{"customer without emails", call{method: "POST", path: "/customer", body: `{"firstName":"X","lastName":"Y"}`}, 422, "at least one email"},
		{"customer without an email", call{method: "POST", path: "/customer", body: `{"firstName":"X","lastName":"Y","emails":[]}`}, 422, "at least one email"},
		{"customer with a bad email", call{method: "POST", path: "/customer", body: `{"firstName":"X","lastName":"Y","emails":[{"email":"nope"}]}`}, 422, "is not an email"},
		{"customer", call{method: "POST", path: "/customer", body: `{"firstName":"Cy","lastName":"Young","emails":[{"email":"cy@example.com"}]}`}, 201, ""},
		{"a second customer with the same email", call{method: "POST", path: "/customer", body: `{"firstName":"Cy","lastName":"Young","emails":[{"email":"cy@example.com"}]}`}, 201, ""},
		{"customer by id", call{method: "GET", path: "/customer/" + ada.ID}, 200, ""},
		{"unknown customer", call{method: "GET", path: "/customer/nobody"}, 404, "Customer not found"},
		{"addresses of an unknown customer", call{method: "GET", path: "/customer/nobody/address"}, 404, "Customer not found"},
		{"address of an unknown customer", call{method: "POST", path: "/customer/nobody/address", body: `{}`}, 404, "Customer not found"},
		{"address without a street", call{method: "POST", path: "/customer/" + ada.ID + "/address", body: `{"city":"Napa","zipCode":"1","countryCode":"US","stateCode":"CA"}`}, 422, "address is required"},
		{"address without a zip code", call{method: "POST", path: "/customer/" + ada.ID + "/address", body: `{"address":"3 Elm","city":"Napa","countryCode":"US","stateCode":"CA"}`}, 422, "zipCode is required"},
		{"address without a country", call{method: "POST", path: "/customer/" + ada.ID + "/address", body: `{"address":"3 Elm","city":"Napa","zipCode":"1"}`}, 422, "countryCode is required"},
		{"foreign address without a state", call{method: "POST", path: "/customer/" + ada.ID + "/address", body: `{"address":"3 Elm","city":"Paris","zipCode":"75001","countryCode":"FR"}`}, 201, ""},
		{"address without a city", call{method: "POST", path: "/customer/" + ada.ID + "/address", body: `{"address":"3 Elm","zipCode":"1","countryCode":"US","stateCode":"CA"}`}, 422, "city is required"},
		{"US address without a state", call{method: "POST", path: "/customer/" + ada.ID + "/address", body: `{"address":"3 Elm","city":"Napa","zipCode":"1","countryCode":"US"}`}, 422, "stateCode is required"},
		{"memberships need a customer or a club", call{method: "GET", path: "/club-membership"}, 422, "customerId or clubId is required"},
		{"membership without a customer", call{method: "POST", path: "/club-membership", body: `{"clubId":"club-gold","orderDeliveryMethod":"Pickup","pickupInventoryLocationId":"loc-1"}`}, 422, "customerId is required"},
		{"membership without a club", call{method: "POST", path: "/club-membership", body: fmt.Sprintf(`{"customerId":%q,"orderDeliveryMethod":"Ship"}`, ada.ID)}, 422, "clubId is required"},
		{"membership without a delivery", call{method: "POST", path: "/club-membership", body: fmt.Sprintf(`{"customerId":%q,"clubId":"club-gold"}`, ada.ID)}, 422, "orderDeliveryMethod is required"},
		{"membership with a bad signup date", call{method: "POST", path: "/club-membership", body: fmt.Sprintf(`{"customerId":%q,"clubId":"club-gold","orderDeliveryMethod":"Pickup","pickupInventoryLocationId":"loc-1","signupDate":"soon"}`, ada.ID)}, 422, "signupDate"},
		{"membership with malformed JSON", call{method: "POST", path: "/club-membership", body: `{"customerId":`}, 400, "Malformed JSON"},
		{"membership with a bad delivery", call{method: "POST", path: "/club-membership", body: fmt.Sprintf(`{"customerId":%q,"clubId":"club-gold","orderDeliveryMethod":"Drone"}`, ada.ID)}, 422, "must be Ship or Pickup"},
		{"membership of an unknown customer", call{method: "POST", path: "/club-membership", body: `{"customerId":"nobody","clubId":"club-gold","orderDeliveryMethod":"Pickup","pickupInventoryLocationId":"loc-1"}`}, 422, "Customer not found"},
		{"membership in an unknown club", call{method: "POST", path: "/club-membership", body: fmt.Sprintf(`{"customerId":%q,"clubId":"club-tin","orderDeliveryMethod":"Pickup","pickupInventoryLocationId":"loc-1"}`, ada.ID)}, 422, "Club not found"},
		{"Ship without an address", call{method: "POST", path: "/club-membership", body: fmt.Sprintf(`{"customerId":%q,"clubId":"club-gold","orderDeliveryMethod":"Ship"}`, ada.ID)}, 422, "shipToCustomerAddressId is required"},
		{"another customer's ship-to address", call{method: "POST", path: "/club-membership", body: fmt.Sprintf(`{"customerId":%q,"clubId":"club-gold","orderDeliveryMethod":"Ship","shipToCustomerAddressId":%q}`, ada.ID, boAddr.ID)}, 422, "Address not found"},
		{"another customer's bill-to address", call{method: "POST", path: "/club-membership", body: member(fmt.Sprintf(`,"billToCustomerAddressId":%q`, boAddr.ID))}, 422, "billToCustomerAddressId"},
		{"membership", call{method: "POST", path: "/club-membership", body: member(`,"signupDate":"2026-11-25"`)}, 201, ""},
		{"a second live membership in the club", call{method: "POST", path: "/club-membership", body: member("")}, 422, "Customer already has an active membership in this club"},
		{"a membership beside an On Hold one", call{method: "POST", path: "/club-membership", body: fmt.Sprintf(`{"customerId":%q,"clubId":"club-gold","orderDeliveryMethod":"Pickup","pickupInventoryLocationId":"loc-1"}`, bo.ID)}, 422, "Customer already has an active membership in this club"},
		{"unknown membership", call{method: "GET", path: "/club-membership/nothing"}, 404, "Club membership not found"},
		{"update of an unknown membership", call{method: "PUT", path: "/club-membership/nothing", body: `{}`}, 404, "Club membership not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, base, c.call)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %v", r.status, c.status, r.body)
			}
			if c.status >= 400 {
				if r.body["statusCode"] != float64(c.status) || r.body["type"] == "" || r.body["errors"] == nil {
					t.Fatalf("error body %v lacks Commerce7's shape", r.body)
				}
				if b, _ := json.Marshal(r.body); !strings.Contains(string(b), c.message) {
					t.Fatalf("error body %s lacks %q", b, c.message)
				}
			}
		})
	}
	if n := len(f.Memberships("napa", ada.ID)); n != 1 {
		t.Fatalf("%d memberships after the table, want 1", n)
	}
	if got := f.Memberships("napa", ada.ID)[0].SignupDate; !got.Equal(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("signup date %v, want the one sent", got)
	}
	if c, ok := f.CustomerByEmail("napa", "CY@example.com"); !ok || c.FirstName != "Cy" {
		t.Fatalf("CustomerByEmail: %+v %v", c, ok)
	}
	var cys int
	for _, c := range f.Customers("napa") {
		if c.Emails[0] == "cy@example.com" {
			cys++
		}
	}
	if cys != 2 {
		t.Fatalf("%d customers with cy@example.com, want both (Commerce7 keeps duplicates)", cys)
	}
}

// TestMembershipShape checks the fields a client decodes, including the nulls Commerce7
// sends for what a new membership does not have.
func TestMembershipShape(t *testing.T) {
	f, base := start(t, nil, -1)
	c := f.AddCustomer("napa", Customer{FirstName: "A", LastName: "B", Emails: []string{"a@example.com"}})
	r := do(t, base, call{method: "POST", path: "/club-membership", body: fmt.Sprintf(`{"customerId":%q,"clubId":"club-gold","orderDeliveryMethod":"Pickup","pickupInventoryLocationId":"loc-1","customerCreditCardId":"card-1"}`, c.ID)})
	if r.status != 201 {
		t.Fatalf("create: %d %v", r.status, r.body)
	}
	for field, want := range map[string]any{"customerId": c.ID, "clubId": "club-gold", "status": "Active", "orderDeliveryMethod": "Pickup",
		"customerCreditCardId": "card-1", "cancelDate": nil, "cancellationReason": nil, "shipToCustomerAddressId": nil} {
		if got, ok := r.body[field]; !ok || got != want {
			t.Errorf("%s: %v (present %v), want %v", field, got, ok, want)
		}
	}
	for _, field := range []string{"signupDate", "createdAt", "updatedAt"} {
		if _, err := time.Parse(time.RFC3339, fmt.Sprint(r.body[field])); err != nil {
			t.Errorf("%s: %v", field, err)
		}
	}
	id, _ := r.body["id"].(string)
	if got := do(t, base, call{method: "GET", path: "/club-membership/" + id}); got.status != 200 || got.body["id"] != id {
		t.Fatalf("by id: %d %v", got.status, got.body)
	}
}

func TestAddresses(t *testing.T) {
	f, base := start(t, nil, -1)
	c := f.AddCustomer("napa", Customer{FirstName: "A", LastName: "B", Emails: []string{"a@example.com"}})
	path := "/customer/" + c.ID + "/address"
	add := func(street string, isDefault bool) string {
		r := do(t, base, call{method: "POST", path: path, body: fmt.Sprintf(`{"address":%q,"city":"Napa","stateCode":"CA","zipCode":"94558","countryCode":"US","isDefault":%v}`, street, isDefault)})
		if r.status != 201 || r.body["customerId"] != c.ID {
			t.Fatalf("add %s: %d %v", street, r.status, r.body)
		}
		return r.body["id"].(string)
	}
	defaults := func() []string {
		r := do(t, base, call{method: "GET", path: path})
		var out []string
		for _, a := range r.body["customerAddresses"].([]any) {
			if a := a.(map[string]any); a["isDefault"] == true {
				out = append(out, a["id"].(string))
			}
		}
		if r.body["total"] != float64(len(f.Addresses("napa", c.ID))) {
			t.Fatalf("total %v, want %d", r.body["total"], len(f.Addresses("napa", c.ID)))
		}
		return out
	}
	first := add("1 Vine St", false)
	if got := defaults(); fmt.Sprint(got) != fmt.Sprint([]string{first}) {
		t.Fatalf("defaults %v: the first address is the default", got)
	}
	add("2 Oak St", false)
	if got := defaults(); fmt.Sprint(got) != fmt.Sprint([]string{first}) {
		t.Fatalf("defaults %v: a non-default address moved the default", got)
	}
	third := add("3 Elm St", true)
	if got := defaults(); fmt.Sprint(got) != fmt.Sprint([]string{third}) {
		t.Fatalf("defaults %v, want only %s", got, third)
	}
}

func TestCancel(t *testing.T) {
	f, base := start(t, nil, -1)
	c := f.AddCustomer("napa", Customer{FirstName: "A", LastName: "B", Emails: []string{"a@example.com"}})
	m := f.AddMembership("napa", Membership{CustomerID: c.ID, ClubID: "club-gold", OrderDeliveryMethod: "Pickup"})
	path := "/club-membership/" + m.ID
	if r := do(t, base, call{method: "PUT", path: path, body: `{"cancelDate":"2026-11-25T00:00:00Z"}`}); r.status != 422 {
		t.Fatalf("cancel without a reason: %d", r.status)
	}
	// A refused update changes nothing, not even the part of it that was valid.
	if r := do(t, base, call{method: "PUT", path: path, body: `{"cancelDate":"2026-11-25T00:00:00Z","cancellationReason":"Other","orderDeliveryMethod":"Drone"}`}); r.status != 422 {
		t.Fatalf("cancel with a bad delivery: %d", r.status)
	}
	if got := f.Memberships("napa", c.ID)[0]; got.Status != "Active" || got.CancelDate != nil {
		t.Fatalf("after refused updates: %+v", got)
	}
	r := do(t, base, call{method: "PUT", path: path, body: `{"cancelDate":"2026-11-25T00:00:00Z","cancellationReason":"Other"}`})
	if r.status != 200 || r.body["status"] != "Cancelled" || r.body["cancellationReason"] != "Other" {
		t.Fatalf("cancel: %d %v", r.status, r.body)
	}
	if r := do(t, base, call{method: "PUT", path: path, body: `{"cancelDate":"2026-11-25T00:00:00Z","cancellationReason":"Other"}`}); r.status != 422 || !strings.Contains(fmt.Sprint(r.body["errors"]), "Club membership is already cancelled") {
		t.Fatalf("second cancel: %d %v", r.status, r.body)
	}
	// Cancelled, the customer may join the club again.
	r = do(t, base, call{method: "POST", path: "/club-membership", body: fmt.Sprintf(`{"customerId":%q,"clubId":"club-gold","orderDeliveryMethod":"Pickup","pickupInventoryLocationId":"loc-1"}`, c.ID)})
	if r.status != 201 {
		t.Fatalf("re-join: %d %v", r.status, r.body)
	}
}

func TestSearchIsFuzzyAndListsArePaged(t *testing.T) {
	f, base := start(t, nil, -1)
	ann := f.AddCustomer("napa", Customer{FirstName: "Ann", LastName: "Lee", Emails: []string{"ann@example.com"}})
	f.AddCustomer("napa", Customer{FirstName: "Jo", LastName: "Ann", Emails: []string{"joann@example.com"}})
	f.AddCustomer("napa", Customer{FirstName: "Bo", LastName: "Ng", Emails: []string{"bo@example.com"}})
	r := do(t, base, call{method: "GET", path: "/customer?q=ann@example.com"})
	if r.status != 200 || r.body["total"] != float64(2) {
		t.Fatalf("search: %d %v (want ann and joann)", r.status, r.body)
	}
	for i := 0; i < 60; i++ {
		f.AddMembership("napa", Membership{CustomerID: ann.ID, ClubID: "club-gold", Status: "Cancelled", OrderDeliveryMethod: "Pickup"})
	}
	for p, want := range map[int]int{1: 50, 2: 10, 3: 0} {
		r := do(t, base, call{method: "GET", path: fmt.Sprintf("/club-membership?customerId=%s&page=%d", ann.ID, p)})
		if got := len(r.body["clubMemberships"].([]any)); r.status != 200 || got != want || r.body["total"] != float64(60) {
			t.Fatalf("page %d: %d items, total %v; want %d of 60", p, got, r.body["total"], want)
		}
	}
}

func TestRateLimit(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	f, base := start(t, clk, 3)
	f.Inject(Fault{Count: 1, Kind: FaultStatus, Status: 503})
	get := call{method: "GET", path: "/customer?q=x"}
	for i := 0; i < 3; i++ {
		if r := do(t, base, get); r.status != 200 && r.status != 503 {
			t.Fatalf("request %d: %d", i+1, r.status)
		}
	}
	clk.add(20 * time.Second)
	r := do(t, base, get)
	if r.status != 429 || r.header.Get("Retry-After") != "40" || r.body["type"] != "tooManyRequests" {
		t.Fatalf("4th request: %d Retry-After %q %v", r.status, r.header.Get("Retry-After"), r.body)
	}
	if r := do(t, base, call{method: "GET", path: "/customer?q=x", tenant: "-"}); r.status != 400 {
		t.Fatalf("a refused request is checked before the limit: %d", r.status)
	}
	// Neither a 429 nor a 401 uses up a fault: the next admitted request takes it.
	f.Inject(Fault{Count: 1, Kind: FaultStatus, Status: 502})
	if r := do(t, base, get); r.status != 429 {
		t.Fatalf("over the limit with a fault waiting: %d", r.status)
	}
	if r := do(t, base, call{method: "GET", path: "/customer?q=x", user: "app", pass: "nope"}); r.status != 401 {
		t.Fatalf("wrong secret with a fault waiting: %d", r.status)
	}
	clk.add(39*time.Second + 900*time.Millisecond)
	if r := do(t, base, get); r.status != 429 || r.header.Get("Retry-After") != "1" {
		t.Fatalf("0.1 s before the window ends: %d Retry-After %q, want 429 and 1", r.status, r.header.Get("Retry-After"))
	}
	clk.add(100 * time.Millisecond)
	if r := do(t, base, get); r.status != 502 {
		t.Fatalf("first request of the next window: %d, want the waiting fault's 502", r.status)
	}
	if r := do(t, base, get); r.status != 200 {
		t.Fatalf("after the window: %d", r.status)
	}
	// Tenants have their own windows.
	other := Options{AppID: "app", AppSecret: "secret", RateLimit: 1, Now: clk.now}
	_, base2 := Start(t, other)
	for i, want := range []struct {
		tenant string
		status int
	}{{"napa", 200}, {"sonoma", 200}, {"napa", 429}, {"sonoma", 429}} {
		if r := do(t, base2, call{method: "GET", path: "/customer?q=x", tenant: want.tenant}); r.status != want.status {
			t.Fatalf("request %d (%s): %d, want %d", i+1, want.tenant, r.status, want.status)
		}
	}
}

func TestDefaultRateLimitIs100(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	_, base := start(t, clk, 0)
	for i := 1; i <= 101; i++ {
		want := 200
		if i == 101 {
			want = 429
		}
		if r := do(t, base, call{method: "GET", path: "/customer?q=x"}); r.status != want {
			t.Fatalf("request %d: %d, want %d", i, r.status, want)
		}
	}
}

func TestFaults(t *testing.T) {
	f, base := start(t, nil, -1)
	c := f.AddCustomer("napa", Customer{FirstName: "A", LastName: "B", Emails: []string{"a@example.com"}})
	body := fmt.Sprintf(`{"customerId":%q,"clubId":"club-gold","orderDeliveryMethod":"Pickup","pickupInventoryLocationId":"loc-1"}`, c.ID)

	// Faults match by method and path prefix, in order, and are used up.
	f.Inject(Fault{Method: "POST", Path: "/club-membership", Count: 2, Kind: FaultStatus, Status: 503})
	if r := do(t, base, call{method: "GET", path: "/customer?q=a"}); r.status != 200 {
		t.Fatalf("a GET took a POST fault: %d", r.status)
	}
	for i := 0; i < 2; i++ {
		if r := do(t, base, call{method: "POST", path: "/club-membership", body: body}); r.status != 503 || r.body["message"] != "injected failure" {
			t.Fatalf("injected 503 #%d: %d %v", i+1, r.status, r.body)
		}
	}
	if n := len(f.Memberships("napa", c.ID)); n != 0 {
		t.Fatalf("a failed call was applied: %d memberships", n)
	}

	f.Inject(Fault{Method: "post", Path: "/club-membership", Kind: FaultStatus, Status: 429, RetryAfter: 7})
	if r := do(t, base, call{method: "POST", path: "/club-membership", body: body}); r.status != 429 || r.header.Get("Retry-After") != "7" {
		t.Fatalf("injected 429: %d Retry-After %q", r.status, r.header.Get("Retry-After"))
	}

	f.Inject(Fault{Kind: FaultErrorsIn200})
	if r := do(t, base, call{method: "POST", path: "/club-membership", body: body}); r.status != 200 || len(r.body["errors"].([]any)) != 1 {
		t.Fatalf("errors in a 200: %d %v", r.status, r.body)
	}

	f.Inject(Fault{Kind: FaultLoseAnswer})
	req, _ := http.NewRequest("POST", base+"/club-membership", strings.NewReader(body))
	req.SetBasicAuth("app", "secret")
	req.Header.Set("tenant", "napa")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("lost answer: got %d", resp.StatusCode)
	}
	if n := len(f.Memberships("napa", c.ID)); n != 1 {
		t.Fatalf("lost answer: %d memberships, want 1 (applied)", n)
	}

	f.Inject(Fault{Kind: FaultHang})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, "GET", base+"/customer?q=a", nil)
	req.SetBasicAuth("app", "secret")
	req.Header.Set("tenant", "napa")
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hang: %v, want the client's deadline", err)
	}

	log := f.Requests()
	var statuses []int
	for _, r := range log {
		statuses = append(statuses, r.Status)
	}
	if fmt.Sprint(statuses) != "[200 503 503 429 200 0 0]" || log[5].Method != "POST" || log[5].Path != "/club-membership" ||
		log[5].Tenant != "napa" || log[5].Body != body || log[6].RawQuery != "q=a" {
		t.Fatalf("request log %v: %+v", statuses, log)
	}
}

// TestFaultsUnderConcurrency checks that a fault's Count is exact when calls race for it.
func TestFaultsUnderConcurrency(t *testing.T) {
	f, base := start(t, nil, -1)
	f.Inject(Fault{Path: "/customer", Count: 5, Kind: FaultStatus, Status: 503})
	const calls = 20
	statuses := make(chan int, calls)
	errs := make(chan error, calls)
	var wg sync.WaitGroup
	for range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequest("GET", base+"/customer?q=x", nil)
			if err != nil {
				errs <- fmt.Errorf("new request: %w", err)
				return
			}
			req.SetBasicAuth("app", "secret")
			req.Header.Set("tenant", "napa")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- fmt.Errorf("get: %w", err)
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(statuses)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[503] != 5 || count[200] != calls-5 {
		t.Fatalf("statuses %v, want 5 × 503 and %d × 200", count, calls-5)
	}
	if n := len(f.Requests()); n != calls {
		t.Fatalf("%d requests logged, want %d", n, calls)
	}
}

func TestSeedingAnUnknownTenantSaysSo(t *testing.T) {
	f := New(Options{AppID: "app", AppSecret: "secret", Tenants: []string{"napa"}})
	defer func() {
		if r := recover(); !strings.Contains(fmt.Sprint(r), `tenant "sonoma" does not exist`) {
			t.Fatalf("panic %v, want one naming the tenant", r)
		}
	}()
	f.AddCustomer("sonoma", Customer{FirstName: "A"})
}

func TestControlAPI(t *testing.T) {
	f, base := start(t, nil, -1)
	root := strings.TrimSuffix(base, "/v1")
	post := func(path, body string) int {
		resp, err := http.Post(root+path, "application/json", bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	getJSON := func(path string) map[string]any {
		resp, err := http.Get(root + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, err)
		}
		return out
	}
	if s := post("/_fake/commerce7/faults", `{"kind":"status","status":502,"count":1}`); s != 204 {
		t.Fatalf("faults: %d", s)
	}
	for _, bad := range []string{`{"kind":"explode"}`, `{"kind":"status"}`, `{`} {
		if s := post("/_fake/commerce7/faults", bad); s != 400 {
			t.Fatalf("fault %s: %d, want 400", bad, s)
		}
	}
	if s := post("/_fake/commerce7/clubs", `{"tenant":"napa","clubId":"club-silver"}`); s != 204 {
		t.Fatalf("clubs: %d", s)
	}
	if r := do(t, base, call{method: "GET", path: "/customer?q=x"}); r.status != 502 {
		t.Fatalf("injected over HTTP: %d", r.status)
	}
	c := f.AddCustomer("napa", Customer{FirstName: "A", LastName: "B", Emails: []string{"a@example.com"}})
	if r := do(t, base, call{method: "POST", path: "/club-membership", body: fmt.Sprintf(`{"customerId":%q,"clubId":"club-silver","orderDeliveryMethod":"Pickup","pickupInventoryLocationId":"loc-1"}`, c.ID)}); r.status != 201 {
		t.Fatalf("club added over HTTP: %d %v", r.status, r.body)
	}
	if got := getJSON("/_fake/commerce7/memberships?tenant=napa&customerId=" + c.ID)["memberships"].([]any); len(got) != 1 {
		t.Fatalf("memberships %v", got)
	}
	if got := getJSON("/_fake/commerce7/memberships?tenant=napa")["memberships"].([]any); len(got) != 1 || got[0].(map[string]any)["clubId"] != "club-silver" {
		t.Fatalf("all memberships of the tenant %v", got)
	}
	if got, ok := getJSON("/_fake/commerce7/memberships?tenant=sonoma")["memberships"].([]any); !ok || len(got) != 0 {
		t.Fatalf("memberships of a tenant without any: %v, want []", got)
	}
	if got := getJSON("/_fake/commerce7/customers?tenant=napa")["customers"].([]any); len(got) != 1 {
		t.Fatalf("customers %v", got)
	}
	if got := getJSON("/_fake/commerce7/requests")["requests"].([]any); len(got) != 2 {
		t.Fatalf("requests %v", got)
	}
}

func TestLatency(t *testing.T) {
	f, base := start(t, nil, -1)
	f.SetLatency(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/customer?q=a", nil)
	req.SetBasicAuth("app", "secret")
	req.Header.Set("tenant", "napa")
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow answer: %v, want the client's deadline", err)
	}
	f.SetLatency(0)
	if r := do(t, base, call{method: "GET", path: "/customer?q=a"}); r.status != 200 {
		t.Fatalf("latency removed: %d", r.status)
	}
}

// TestHostileFaults checks the faults that test what we trust of a CRM's answer: a fault
// for one tenant leaves the others alone, a message travels as given (a NUL as \u0000),
// and a raw body arrives byte for byte, invalid UTF-8 included.
func TestHostileFaults(t *testing.T) {
	f, base := Start(t, Options{AppID: "app", AppSecret: "secret", Tenants: []string{"napa", "sonoma"}, RateLimit: -1})
	f.Inject(Fault{Tenant: "sonoma", Kind: FaultStatus, Status: 422, Message: "bad\x00name"})
	if r := do(t, base, call{method: "GET", path: "/customer?q=x"}); r.status != 200 {
		t.Fatalf("another tenant took the fault: %d", r.status)
	}
	if r := do(t, base, call{method: "GET", path: "/customer?q=x", tenant: "sonoma"}); r.status != 422 || r.body["message"] != "bad\x00name" {
		t.Fatalf("message fault: %d %q", r.status, r.body["message"])
	}

	hostile := "upstream \x00 broke: caf\xc3" // a NUL and a UTF-8 sequence cut mid-character
	f.Inject(Fault{Kind: FaultStatus, Status: 503, RawBody: hostile})
	req, _ := http.NewRequest("GET", base+"/customer?q=x", nil)
	req.SetBasicAuth("app", "secret")
	req.Header.Set("tenant", "napa")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || !bytes.Equal(raw, []byte(hostile)) {
		t.Fatalf("raw fault: %d %q", resp.StatusCode, raw)
	}
}

// TestDrift checks the helpers that change a tenant behind tiersync's back: each change is
// what the API shows next, and none of them is a request (no log entry, no rate-limit token).
func TestDrift(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	f, base := start(t, clk, 2) // two requests a minute: the helpers must not spend them
	c := f.AddCustomer("napa", Customer{FirstName: "A", LastName: "B", Emails: []string{"a@example.com"}})
	kept := f.AddMembership("napa", Membership{CustomerID: c.ID, ClubID: "club-gold", OrderDeliveryMethod: "Pickup"})
	cancelled := f.AddMembership("napa", Membership{CustomerID: c.ID, ClubID: "club-gold", OrderDeliveryMethod: "Pickup"})
	deleted := f.AddMembership("napa", Membership{CustomerID: c.ID, ClubID: "club-gold", OrderDeliveryMethod: "Pickup"})
	scheduled := time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
	moved := f.AddMembership("napa", Membership{CustomerID: c.ID, ClubID: "club-gold", OrderDeliveryMethod: "Pickup", CancelDate: &scheduled})

	f.CancelMembership("napa", cancelled.ID)
	f.DeleteMembership("napa", deleted.ID)
	f.SetMembershipClub("napa", moved.ID, "club-silver")
	f.CancelMembership("napa", moved.ID) // a scheduled one cancelled now is no longer scheduled

	if n := len(f.Requests()); n != 0 {
		t.Fatalf("%d requests logged by the helpers, want none", n)
	}
	r := do(t, base, call{method: "GET", path: "/club-membership?customerId=" + c.ID})
	if r.status != 200 || r.body["total"] != float64(3) {
		t.Fatalf("listing after drift: %d %v, want 3 memberships", r.status, r.body)
	}
	got := map[string]string{}
	for _, x := range r.body["clubMemberships"].([]any) {
		m := x.(map[string]any)
		got[m["id"].(string)] = m["clubId"].(string) + " " + m["status"].(string)
	}
	want := map[string]string{kept.ID: "club-gold Active", cancelled.ID: "club-gold Cancelled", moved.ID: "club-silver Cancelled"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("listing after drift %v, want %v", got, want)
	}
	if r := do(t, base, call{method: "GET", path: "/club-membership/" + deleted.ID}); r.status != 404 {
		t.Fatalf("deleted membership: %d, want 404", r.status)
	}
	// Both requests of the minute went to the API above; the helpers spent none.
	if r := do(t, base, call{method: "GET", path: "/club-membership/" + kept.ID}); r.status != 429 {
		t.Fatalf("third request of the minute: %d, want 429", r.status)
	}
	// The moved membership's cancellation holds past its old scheduled date.
	clk.add(60 * 24 * time.Hour)
	if m := f.Memberships("napa", c.ID); len(m) != 3 || m[2].Status != "Cancelled" || m[2].ClubID != "club-silver" {
		t.Fatalf("after the old scheduled date: %+v", m)
	}
	for _, op := range []func(){
		func() { f.CancelMembership("napa", deleted.ID) },
		func() { f.DeleteMembership("napa", "nothing") },
		func() { f.SetMembershipClub("sonoma", kept.ID, "club-gold") },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "c7test:") {
					t.Fatalf("panic %v, want one naming the mistake", r)
				}
			}()
			op()
		}()
	}
}

// TestSeedMembershipsOverHTTP: the control API seeds memberships behind the client's back
// (system tests run the fake as a process), and refuses one without a customer or club.
func TestSeedMembershipsOverHTTP(t *testing.T) {
	f, base := start(t, nil, 1)
	root := strings.TrimSuffix(base, "/v1")
	for _, tc := range []struct {
		name, body string
		want, ids  int
	}{
		{"two", `{"tenant":"napa","memberships":[{"customerId":"c1","clubId":"club-gold","orderDeliveryMethod":"Pickup"},{"customerId":"c2","clubId":"club-gold","status":"Cancelled"}]}`, 200, 2},
		{"no club", `{"tenant":"napa","memberships":[{"customerId":"c3"}]}`, 400, 0},
		{"no tenant", `{"memberships":[]}`, 400, 0},
		{"not json", `[`, 400, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(root+"/_fake/commerce7/memberships", "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out struct{ IDs []string }
			_ = json.NewDecoder(resp.Body).Decode(&out)
			if resp.StatusCode != tc.want || len(out.IDs) != tc.ids {
				t.Fatalf("%d %v, want %d with %d ids", resp.StatusCode, out.IDs, tc.want, tc.ids)
			}
		})
	}
	ms := f.Memberships("napa", "")
	if len(ms) != 2 || ms[0].Status != "Active" || ms[1].Status != "Cancelled" || len(f.Requests()) != 0 {
		t.Fatalf("seeded %+v; %d requests logged", ms, len(f.Requests()))
	}
}
