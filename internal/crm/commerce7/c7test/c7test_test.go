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
		{"customer without a first name", call{method: "POST", path: "/customer", body: `{"lastName":"X","emails":[{"email":"x@example.com"}]}`}, 422, "firstName is required"},
		{"customer without an email", call{method: "POST", path: "/customer", body: `{"firstName":"X","lastName":"Y","emails":[]}`}, 422, "at least one email"},
		{"customer with a bad email", call{method: "POST", path: "/customer", body: `{"firstName":"X","lastName":"Y","emails":[{"email":"nope"}]}`}, 422, "is not an email"},
		{"customer", call{method: "POST", path: "/customer", body: `{"firstName":"Cy","lastName":"Young","emails":[{"email":"cy@example.com"}]}`}, 201, ""},
		{"unknown customer", call{method: "GET", path: "/customer/nobody"}, 404, "Customer not found"},
		{"address without a city", call{method: "POST", path: "/customer/" + ada.ID + "/address", body: `{"address":"3 Elm","zipCode":"1","countryCode":"US","stateCode":"CA"}`}, 422, "city is required"},
		{"US address without a state", call{method: "POST", path: "/customer/" + ada.ID + "/address", body: `{"address":"3 Elm","city":"Napa","zipCode":"1","countryCode":"US"}`}, 422, "stateCode is required"},
		{"memberships need a customer", call{method: "GET", path: "/club-membership"}, 422, "customerId is required"},
		{"membership without a club", call{method: "POST", path: "/club-membership", body: fmt.Sprintf(`{"customerId":%q,"orderDeliveryMethod":"Ship"}`, ada.ID)}, 422, "clubId is required"},
		{"membership with a bad delivery", call{method: "POST", path: "/club-membership", body: fmt.Sprintf(`{"customerId":%q,"clubId":"club-gold","orderDeliveryMethod":"Drone"}`, ada.ID)}, 422, "must be Ship or Pickup"},
		{"membership of an unknown customer", call{method: "POST", path: "/club-membership", body: `{"customerId":"nobody","clubId":"club-gold","orderDeliveryMethod":"Pickup"}`}, 422, "Customer not found"},
		{"membership in an unknown club", call{method: "POST", path: "/club-membership", body: fmt.Sprintf(`{"customerId":%q,"clubId":"club-tin","orderDeliveryMethod":"Pickup"}`, ada.ID)}, 422, "Club not found"},
		{"Ship without an address", call{method: "POST", path: "/club-membership", body: fmt.Sprintf(`{"customerId":%q,"clubId":"club-gold","orderDeliveryMethod":"Ship"}`, ada.ID)}, 422, "shipToCustomerAddressId is required"},
		{"another customer's address", call{method: "POST", path: "/club-membership", body: fmt.Sprintf(`{"customerId":%q,"clubId":"club-gold","orderDeliveryMethod":"Ship","shipToCustomerAddressId":%q}`, ada.ID, boAddr.ID)}, 422, "Address not found"},
		{"membership", call{method: "POST", path: "/club-membership", body: member("")}, 201, ""},
		{"a second live membership in the club", call{method: "POST", path: "/club-membership", body: member("")}, 422, "already has an active membership"},
		{"unknown membership", call{method: "PUT", path: "/club-membership/nothing", body: `{}`}, 404, "Club membership not found"},
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
}

func TestCancel(t *testing.T) {
	f, base := start(t, nil, -1)
	c := f.AddCustomer("napa", Customer{FirstName: "A", LastName: "B", Emails: []string{"a@example.com"}})
	m := f.AddMembership("napa", Membership{CustomerID: c.ID, ClubID: "club-gold", OrderDeliveryMethod: "Pickup"})
	path := "/club-membership/" + m.ID
	if r := do(t, base, call{method: "PUT", path: path, body: `{"cancelDate":"2026-11-25T00:00:00Z"}`}); r.status != 422 {
		t.Fatalf("cancel without a reason: %d", r.status)
	}
	r := do(t, base, call{method: "PUT", path: path, body: `{"cancelDate":"2026-11-25T00:00:00Z","cancellationReason":"Other"}`})
	if r.status != 200 || r.body["status"] != "Cancelled" || r.body["cancellationReason"] != "Other" {
		t.Fatalf("cancel: %d %v", r.status, r.body)
	}
	if r := do(t, base, call{method: "PUT", path: path, body: `{"cancelDate":"2026-11-25T00:00:00Z","cancellationReason":"Other"}`}); r.status != 422 {
		t.Fatalf("second cancel: %d", r.status)
	}
	// Cancelled, the customer may join the club again.
	r = do(t, base, call{method: "POST", path: "/club-membership", body: fmt.Sprintf(`{"customerId":%q,"clubId":"club-gold","orderDeliveryMethod":"Pickup"}`, c.ID)})
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
	clk.add(40 * time.Second)
	if r := do(t, base, get); r.status != 200 {
		t.Fatalf("after the window: %d", r.status)
	}
}

func TestFaults(t *testing.T) {
	f, base := start(t, nil, -1)
	c := f.AddCustomer("napa", Customer{FirstName: "A", LastName: "B", Emails: []string{"a@example.com"}})
	body := fmt.Sprintf(`{"customerId":%q,"clubId":"club-gold","orderDeliveryMethod":"Pickup"}`, c.ID)

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
	if fmt.Sprint(statuses) != "[200 503 503 200 0 0]" || log[4].Method != "POST" || log[4].Tenant != "napa" || log[4].Body != body {
		t.Fatalf("request log %v: %+v", statuses, log)
	}
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
	if s := post("/_fake/commerce7/faults", `{"kind":"explode"}`); s != 400 {
		t.Fatalf("bad fault kind: %d", s)
	}
	if s := post("/_fake/commerce7/clubs", `{"tenant":"napa","clubId":"club-silver"}`); s != 204 {
		t.Fatalf("clubs: %d", s)
	}
	if r := do(t, base, call{method: "GET", path: "/customer?q=x"}); r.status != 502 {
		t.Fatalf("injected over HTTP: %d", r.status)
	}
	c := f.AddCustomer("napa", Customer{FirstName: "A", LastName: "B", Emails: []string{"a@example.com"}})
	if r := do(t, base, call{method: "POST", path: "/club-membership", body: fmt.Sprintf(`{"customerId":%q,"clubId":"club-silver","orderDeliveryMethod":"Pickup"}`, c.ID)}); r.status != 201 {
		t.Fatalf("club added over HTTP: %d %v", r.status, r.body)
	}
	if got := getJSON("/_fake/commerce7/memberships?tenant=napa&customerId=" + c.ID)["memberships"].([]any); len(got) != 1 {
		t.Fatalf("memberships %v", got)
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
