package c7test

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const pageSize = 50

// Handler serves the API under /v1/ and the control API under /_fake/commerce7/.
func (f *Fake) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/", f.serveAPI)
	mux.HandleFunc("GET /_fake/commerce7/requests", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"requests": f.Requests()})
	})
	mux.HandleFunc("GET /_fake/commerce7/customers", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"customers": nonNil(f.Customers(r.URL.Query().Get("tenant")))})
	})
	mux.HandleFunc("GET /_fake/commerce7/memberships", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		writeJSON(w, 200, map[string]any{"memberships": nonNil(f.Memberships(q.Get("tenant"), q.Get("customerId")))})
	})
	mux.HandleFunc("POST /_fake/commerce7/faults", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Method, Path, Kind string
			Count, Status      int
			RetryAfter         int    `json:"retryAfter"`
			Tenant             string `json:"tenant"`
			Message            string `json:"message"`
			RawBody            string `json:"rawBody"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			writeJSON(w, 400, map[string]string{"error": "malformed JSON: " + err.Error()})
			return
		}
		kind, ok := faultKindByName(in.Kind)
		if !ok {
			writeJSON(w, 400, map[string]string{"error": fmt.Sprintf("kind %q: must be status, hang, lose_answer or errors_in_200", in.Kind)})
			return
		}
		if kind == FaultStatus && (in.Status < 100 || in.Status > 599) {
			writeJSON(w, 400, map[string]string{"error": fmt.Sprintf("status %d: a status fault needs an HTTP status (100-599)", in.Status)})
			return
		}
		f.Inject(Fault{Method: in.Method, Path: in.Path, Count: in.Count, Kind: kind, Status: in.Status, RetryAfter: in.RetryAfter,
			Tenant: in.Tenant, Message: in.Message, RawBody: in.RawBody})
		w.WriteHeader(http.StatusNoContent)
	})
	// Seeding customers in bulk (system tests, the merchant's existing customers):
	// {"tenant": "…", "customers": [{"firstName", "lastName", "emails": ["…"]}]} → {"ids": […]}.
	mux.HandleFunc("POST /_fake/commerce7/customers", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Tenant    string     `json:"tenant"`
			Customers []Customer `json:"customers"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Tenant == "" {
			writeJSON(w, 400, map[string]string{"error": `want {"tenant", "customers": [...]}`})
			return
		}
		ids := make([]string, 0, len(in.Customers))
		for _, c := range in.Customers {
			ids = append(ids, f.AddCustomer(in.Tenant, c).ID)
		}
		writeJSON(w, 200, map[string]any{"ids": ids})
	})
	mux.HandleFunc("DELETE /_fake/commerce7/faults", func(w http.ResponseWriter, r *http.Request) {
		f.ClearFaults() // the CRM recovers
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_fake/commerce7/clubs", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Tenant, ClubID string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Tenant == "" || in.ClubID == "" {
			writeJSON(w, 400, map[string]string{"error": "want {\"tenant\", \"clubId\"}"})
			return
		}
		f.AddClub(in.Tenant, in.ClubID)
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// apiError is Commerce7's error body.
type apiError struct {
	StatusCode int          `json:"statusCode"`
	Type       string       `json:"type"`
	Message    string       `json:"message"`
	Errors     []fieldError `json:"errors"`
}

type fieldError struct {
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// answer is what a handler decided; serveAPI writes it (or loses it).
type answer struct {
	status  int
	body    any
	raw     []byte // sent as is instead of body (an injected non-JSON answer)
	headers map[string]string
}

func fail(status int, typ, msg string, errs ...fieldError) answer {
	if errs == nil {
		errs = []fieldError{}
	}
	return answer{status: status, body: apiError{StatusCode: status, Type: typ, Message: msg, Errors: errs}}
}

func invalid(errs ...fieldError) answer {
	return fail(422, "validationError", "Validation error", errs...)
}

func notFound(what string) answer { return fail(404, "notFound", what+" not found") }

func (f *Fake) serveAPI(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/v1")
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	rec := Request{Method: r.Method, Path: path, RawQuery: r.URL.RawQuery, Tenant: r.Header.Get("tenant"), Body: string(raw)}

	// One critical section decides, applies and logs the request, so the log's order is
	// the order in which requests took effect, and the status is logged before the client
	// can read the answer (a test that inspects the log right after its call sees it).
	f.mu.Lock()
	latency := f.latency
	a, fault := f.admitAndFault(r, rec)
	if a.status == 0 && (fault == nil || fault.Kind == FaultLoseAnswer) {
		a = f.route(r.Method, path, r.URL.Query(), raw, f.tenant(rec.Tenant))
	}
	if fault == nil || fault.Kind != FaultHang && fault.Kind != FaultLoseAnswer {
		rec.Status = a.status
	}
	logged := len(f.requests)
	f.requests = append(f.requests, rec)
	f.mu.Unlock()

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			// The client gave up before the answer: like a hang, it got no status.
			f.mu.Lock()
			f.requests[logged].Status = 0
			f.mu.Unlock()
			return
		case <-f.closed:
			t.Stop()
		}
	}
	if fault != nil {
		switch fault.Kind {
		case FaultHang:
			select {
			case <-r.Context().Done():
			case <-f.closed:
			}
			return
		case FaultLoseAnswer:
			// The change is applied; the client never hears of it.
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler) // no hijacking (HTTP/2): abort the stream instead
		}
	}
	for k, v := range a.headers {
		w.Header().Set(k, v)
	}
	if a.raw != nil {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(a.status)
		_, _ = w.Write(a.raw)
		return
	}
	writeJSON(w, a.status, a.body)
}

// admitAndFault runs the checks every request goes through — auth, tenant, rate limit —
// then picks a fault. A refused request consumes no fault. f.mu held.
func (f *Fake) admitAndFault(r *http.Request, rec Request) (answer, *Fault) {
	user, pass, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(f.opts.AppID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(pass), []byte(f.opts.AppSecret)) != 1 {
		return fail(401, "unauthorized", "Invalid credentials"), nil
	}
	if rec.Tenant == "" {
		return fail(400, "badRequest", "Tenant header is required"), nil
	}
	t := f.tenant(rec.Tenant)
	if t == nil {
		return fail(401, "unauthorized", "Invalid tenant"), nil
	}
	if ok, wait := f.admit(t); !ok {
		a := fail(429, "tooManyRequests", "Too many requests")
		a.headers = map[string]string{"Retry-After": strconv.Itoa(max(1, int((wait+time.Second-1)/time.Second)))}
		return a, nil
	}
	fault := f.takeFault(r.Method, rec.Path, rec.Tenant)
	if fault == nil {
		return answer{}, nil
	}
	switch fault.Kind {
	case FaultStatus:
		msg := fault.Message
		if msg == "" {
			msg = "injected failure"
		}
		a := fail(fault.Status, "serverError", msg)
		if fault.RawBody != "" {
			a.raw = []byte(fault.RawBody)
		}
		if fault.RetryAfter > 0 {
			a.headers = map[string]string{"Retry-After": strconv.Itoa(fault.RetryAfter)}
		}
		return a, fault
	case FaultErrorsIn200:
		return fail(200, "validationError", "Processing error", fieldError{Message: "injected error in a 200 answer"}), fault
	}
	return answer{}, fault
}

// route applies one API request to the tenant's state; f.mu held.
func (f *Fake) route(method, path string, q map[string][]string, body []byte, t *tenantState) answer {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	switch {
	case method == "GET" && len(parts) == 1 && parts[0] == "customer":
		return f.searchCustomers(t, get("q"), get("page"))
	case method == "POST" && len(parts) == 1 && parts[0] == "customer":
		return decodeThen(body, func(in customerIn) answer { return f.createCustomer(t, in) })
	case method == "GET" && len(parts) == 2 && parts[0] == "customer":
		if c := t.customer(parts[1]); c != nil {
			return answer{status: 200, body: customerOut(*c)}
		}
		return notFound("Customer")
	case method == "GET" && len(parts) == 3 && parts[0] == "customer" && parts[2] == "address":
		if t.customer(parts[1]) == nil {
			return notFound("Customer")
		}
		var out []Address
		for _, a := range t.addressesOf[parts[1]] {
			out = append(out, *a)
		}
		return answer{status: 200, body: map[string]any{"customerAddresses": nonNil(out), "total": len(out)}}
	case method == "POST" && len(parts) == 3 && parts[0] == "customer" && parts[2] == "address":
		if t.customer(parts[1]) == nil {
			return notFound("Customer")
		}
		return decodeThen(body, func(in Address) answer { return createAddress(t, parts[1], in) })
	case method == "GET" && len(parts) == 1 && parts[0] == "club-membership":
		return listMemberships(t, get("customerId"), get("page"))
	case method == "POST" && len(parts) == 1 && parts[0] == "club-membership":
		return decodeThen(body, func(in membershipIn) answer { return f.createMembership(t, in) })
	case method == "GET" && len(parts) == 2 && parts[0] == "club-membership":
		if m := t.membership(parts[1]); m != nil {
			return answer{status: 200, body: membershipOut(*m)}
		}
		return notFound("Club membership")
	case method == "PUT" && len(parts) == 2 && parts[0] == "club-membership":
		m := t.membership(parts[1])
		if m == nil {
			return notFound("Club membership")
		}
		return decodeThen(body, func(in membershipUpdate) answer { return f.updateMembership(m, in) })
	}
	return fail(404, "notFound", fmt.Sprintf("No route for %s %s", method, path))
}

// decodeThen decodes a JSON body into In, or answers 400 as Commerce7 does.
func decodeThen[In any](body []byte, then func(In) answer) answer {
	var in In
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&in); err != nil {
		return fail(400, "badRequest", "Malformed JSON: "+err.Error())
	}
	return then(in)
}

func page(s string) int {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 {
		return 1
	}
	return p
}

func paged[T any](all []T, p int) []T {
	from := min((p-1)*pageSize, len(all))
	return all[from:min(from+pageSize, len(all))]
}

func (t *tenantState) customer(id string) *Customer { return t.customerByID[id] }

func (t *tenantState) membership(id string) *Membership { return t.membershipByID[id] }

type emailIn struct {
	Email string `json:"email"`
}

type phoneIn struct {
	Phone string `json:"phone"`
}

type customerIn struct {
	FirstName string    `json:"firstName"`
	LastName  string    `json:"lastName"`
	Emails    []emailIn `json:"emails"`
	Phones    []phoneIn `json:"phones"`
}

// customerOut is a customer as the API shows it.
func customerOut(c Customer) map[string]any {
	emails := []emailIn{}
	for _, e := range c.Emails {
		emails = append(emails, emailIn{e})
	}
	phones := []phoneIn{}
	if c.Phone != "" {
		phones = append(phones, phoneIn{c.Phone})
	}
	return map[string]any{"id": c.ID, "firstName": c.FirstName, "lastName": c.LastName, "emails": emails,
		"phones": phones, "createdAt": c.CreatedAt, "updatedAt": c.CreatedAt}
}

// searchCustomers is fuzzy like Commerce7's: any email or name containing the text.
func (f *Fake) searchCustomers(t *tenantState, q, p string) answer {
	q = strings.ToLower(strings.TrimSpace(q))
	var hits []map[string]any
	for _, c := range t.customers {
		match := q == "" || strings.Contains(strings.ToLower(c.FirstName), q) || strings.Contains(strings.ToLower(c.LastName), q)
		for _, e := range c.Emails {
			match = match || strings.Contains(strings.ToLower(e), q)
		}
		if match {
			hits = append(hits, customerOut(*c))
		}
	}
	return answer{status: 200, body: map[string]any{"customers": nonNil(paged(hits, page(p))), "total": len(hits)}}
}

func (f *Fake) createCustomer(t *tenantState, in customerIn) answer {
	var errs []fieldError
	if strings.TrimSpace(in.FirstName) == "" {
		errs = append(errs, fieldError{"firstName", "firstName is required"})
	}
	if strings.TrimSpace(in.LastName) == "" {
		errs = append(errs, fieldError{"lastName", "lastName is required"})
	}
	if len(in.Emails) == 0 {
		errs = append(errs, fieldError{"emails", "at least one email is required"})
	}
	c := Customer{ID: newID(), FirstName: in.FirstName, LastName: in.LastName, CreatedAt: f.opts.Now().UTC()}
	for _, e := range in.Emails {
		if !strings.Contains(e.Email, "@") {
			errs = append(errs, fieldError{"emails", fmt.Sprintf("%q is not an email", e.Email)})
		}
		c.Emails = append(c.Emails, e.Email)
	}
	if len(errs) > 0 {
		return invalid(errs...)
	}
	if len(in.Phones) > 0 {
		c.Phone = in.Phones[0].Phone
	}
	// No duplicate check: Commerce7 does not reliably refuse a second customer with the
	// same email, which is why callers must search first.
	t.addCustomer(&c)
	return answer{status: 201, body: customerOut(c)}
}

func createAddress(t *tenantState, customerID string, in Address) answer {
	var errs []fieldError
	for _, req := range []struct{ field, v string }{{"address", in.Address}, {"city", in.City}, {"zipCode", in.ZipCode}, {"countryCode", in.CountryCode}} {
		if strings.TrimSpace(req.v) == "" {
			errs = append(errs, fieldError{req.field, req.field + " is required"})
		}
	}
	if in.CountryCode == "US" && strings.TrimSpace(in.StateCode) == "" {
		errs = append(errs, fieldError{"stateCode", "stateCode is required for US addresses"})
	}
	if len(errs) > 0 {
		return invalid(errs...)
	}
	in.ID, in.CustomerID = "", customerID
	return answer{status: 201, body: *t.addAddress(in)}
}

func listMemberships(t *tenantState, customerID, p string) answer {
	if customerID == "" {
		return invalid(fieldError{"customerId", "customerId is required"})
	}
	all := append([]*Membership(nil), t.membershipsOf[customerID]...)
	sortByCreation(all)
	out := []map[string]any{}
	for _, m := range paged(all, page(p)) {
		out = append(out, membershipOut(*m))
	}
	return answer{status: 200, body: map[string]any{"clubMemberships": out, "total": len(all)}}
}

type membershipIn struct {
	CustomerID                string `json:"customerId"`
	ClubID                    string `json:"clubId"`
	OrderDeliveryMethod       string `json:"orderDeliveryMethod"`
	SignupDate                string `json:"signupDate"`
	BillToCustomerAddressID   string `json:"billToCustomerAddressId"`
	ShipToCustomerAddressID   string `json:"shipToCustomerAddressId"`
	CustomerCreditCardID      string `json:"customerCreditCardId"`
	PickupInventoryLocationID string `json:"pickupInventoryLocationId"`
}

func (f *Fake) createMembership(t *tenantState, in membershipIn) answer {
	var errs []fieldError
	need := func(field, v string) {
		if strings.TrimSpace(v) == "" {
			errs = append(errs, fieldError{field, field + " is required"})
		}
	}
	need("customerId", in.CustomerID)
	need("clubId", in.ClubID)
	need("orderDeliveryMethod", in.OrderDeliveryMethod)
	if len(errs) > 0 {
		return invalid(errs...)
	}
	if in.OrderDeliveryMethod != "Ship" && in.OrderDeliveryMethod != "Pickup" {
		return invalid(fieldError{"orderDeliveryMethod", "orderDeliveryMethod must be Ship or Pickup"})
	}
	if t.customer(in.CustomerID) == nil {
		return invalid(fieldError{"customerId", "Customer not found"})
	}
	if len(t.clubs) > 0 && !t.clubs[in.ClubID] {
		return invalid(fieldError{"clubId", "Club not found"})
	}
	for _, a := range []struct{ field, id string }{{"billToCustomerAddressId", in.BillToCustomerAddressID}, {"shipToCustomerAddressId", in.ShipToCustomerAddressID}} {
		if a.id == "" {
			continue
		}
		owned := false
		for _, x := range t.addressesOf[in.CustomerID] {
			owned = owned || x.ID == a.id
		}
		if !owned {
			errs = append(errs, fieldError{a.field, "Address not found for this customer"})
		}
	}
	if in.OrderDeliveryMethod == "Ship" && in.ShipToCustomerAddressID == "" {
		errs = append(errs, fieldError{"shipToCustomerAddressId", "shipToCustomerAddressId is required when orderDeliveryMethod is Ship"})
	}
	signup, err := parseDate(in.SignupDate)
	if err != nil {
		errs = append(errs, fieldError{"signupDate", err.Error()})
	}
	if len(errs) > 0 {
		return invalid(errs...)
	}
	for _, m := range t.membershipsOf[in.CustomerID] {
		if m.ClubID == in.ClubID && (m.Status == "Active" || m.Status == "On Hold") {
			return invalid(fieldError{"clubId", "Customer already has an active membership in this club"})
		}
	}
	now := f.opts.Now().UTC()
	m := &Membership{ID: newID(), CustomerID: in.CustomerID, ClubID: in.ClubID, Status: "Active",
		OrderDeliveryMethod: in.OrderDeliveryMethod, BillToCustomerAddressID: in.BillToCustomerAddressID,
		ShipToCustomerAddressID: in.ShipToCustomerAddressID, CustomerCreditCardID: in.CustomerCreditCardID,
		PickupInventoryLocationID: in.PickupInventoryLocationID, SignupDate: now, CreatedAt: now, UpdatedAt: now}
	if !signup.IsZero() {
		m.SignupDate = signup
	}
	t.addMembership(m)
	return answer{status: 201, body: membershipOut(*m)}
}

type membershipUpdate struct {
	CancelDate          *string `json:"cancelDate"`
	CancellationReason  string  `json:"cancellationReason"`
	OrderDeliveryMethod string  `json:"orderDeliveryMethod"`
}

// updateMembership validates the whole update before changing anything, so a refused
// update (422) leaves the membership as it was, as a real API's would.
func (f *Fake) updateMembership(m *Membership, in membershipUpdate) answer {
	var cancel time.Time
	if in.CancelDate != nil {
		d, err := parseDate(*in.CancelDate)
		if err != nil {
			return invalid(fieldError{"cancelDate", err.Error()})
		}
		cancel = d
	}
	if !cancel.IsZero() {
		if strings.TrimSpace(in.CancellationReason) == "" {
			return invalid(fieldError{"cancellationReason", "cancellationReason is required when cancelDate is given"})
		}
		if m.Status == "Cancelled" {
			return invalid(fieldError{Message: "Club membership is already cancelled"})
		}
	}
	if in.OrderDeliveryMethod != "" && in.OrderDeliveryMethod != "Ship" && in.OrderDeliveryMethod != "Pickup" {
		return invalid(fieldError{"orderDeliveryMethod", "orderDeliveryMethod must be Ship or Pickup"})
	}
	if !cancel.IsZero() {
		m.CancelDate, m.CancellationReason, m.Status = &cancel, in.CancellationReason, "Cancelled"
	}
	if in.OrderDeliveryMethod != "" {
		m.OrderDeliveryMethod = in.OrderDeliveryMethod
	}
	m.UpdatedAt = f.opts.Now().UTC()
	return answer{status: 200, body: membershipOut(*m)}
}

// parseDate reads a date as Commerce7 takes it: an RFC 3339 timestamp or a bare
// YYYY-MM-DD. "" is no date (the zero time). A bad date is the caller's mistake, answered
// 422 rather than the 400 of malformed JSON, which is why dates are decoded as strings.
func parseDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp or a YYYY-MM-DD date", s)
	}
	return t, nil
}

// nullable is an optional string as Commerce7 shows it: null when absent, not "".
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// membershipOut is a membership as the API shows it. The Membership struct's own JSON
// (the control API's) omits empty fields; the API instead shows every field, with null
// for the absent ones, and clients decoding it rely on that shape.
func membershipOut(m Membership) map[string]any {
	return map[string]any{
		"id": m.ID, "customerId": m.CustomerID, "clubId": m.ClubID, "status": m.Status,
		"orderDeliveryMethod":       m.OrderDeliveryMethod,
		"signupDate":                m.SignupDate,
		"cancelDate":                m.CancelDate,
		"cancellationReason":        nullable(m.CancellationReason),
		"billToCustomerAddressId":   nullable(m.BillToCustomerAddressID),
		"shipToCustomerAddressId":   nullable(m.ShipToCustomerAddressID),
		"customerCreditCardId":      nullable(m.CustomerCreditCardID),
		"pickupInventoryLocationId": nullable(m.PickupInventoryLocationID),
		"createdAt":                 m.CreatedAt, "updatedAt": m.UpdatedAt,
	}
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
