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

	"tiersync/internal/crm/crmfake"
)

const pageSize = 50

// Handler serves the API under /v1/ and the control API under /_fake/commerce7/: the
// request log and faults (crmfake), the tenants' state, and seeds.
func (f *Fake) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/", f.serveAPI)
	f.core.Register(mux, crmfake.Control{Prefix: "/_fake/commerce7", Kinds: faultKinds(),
		Fault: func(in crmfake.FaultRequest, kind crmfake.Kind) crmfake.Fault {
			return Fault{Method: in.Method, Path: in.Path, Count: in.Count, Kind: kind, Status: in.Status, RetryAfter: in.RetryAfter,
				Tenant: in.Tenant, Message: in.Message, RawBody: in.RawBody}.generic()
		}})
	mux.HandleFunc("GET /_fake/commerce7/customers", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"customers": nonNil(f.Customers(r.URL.Query().Get("tenant")))})
	})
	mux.HandleFunc("GET /_fake/commerce7/memberships", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		writeJSON(w, 200, map[string]any{"memberships": nonNil(f.Memberships(q.Get("tenant"), q.Get("customerId")))})
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
	// Seeding memberships in bulk, behind the client's back (reconciliation's tests, a
	// merchant's changes in the admin): {"tenant", "memberships": [{"customerId", "clubId",
	// "orderDeliveryMethod"?, "status"?}]} → {"ids": […]}.
	mux.HandleFunc("POST /_fake/commerce7/memberships", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Tenant      string       `json:"tenant"`
			Memberships []Membership `json:"memberships"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Tenant == "" {
			writeJSON(w, 400, map[string]string{"error": `want {"tenant", "memberships": [...]}`})
			return
		}
		ids := make([]string, 0, len(in.Memberships))
		for _, m := range in.Memberships {
			if m.CustomerID == "" || m.ClubID == "" {
				writeJSON(w, 400, map[string]string{"error": "each membership needs customerId and clubId"})
				return
			}
		}
		for _, m := range in.Memberships {
			ids = append(ids, f.AddMembership(in.Tenant, m).ID)
		}
		writeJSON(w, 200, map[string]any{"ids": ids})
	})
	// Giving a customer a card: {"tenant", "customerId", "isDefault"?, "cardBrand"?,
	// "maskedCardNumber"?} → the card.
	mux.HandleFunc("POST /_fake/commerce7/credit-cards", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Tenant string `json:"tenant"`
			CreditCard
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Tenant == "" || in.CustomerID == "" {
			writeJSON(w, 400, map[string]string{"error": `want {"tenant", "customerId", ...}`})
			return
		}
		card, err := f.addCreditCard(in.Tenant, in.CreditCard)
		if err != nil {
			writeJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, 200, card)
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

func writeJSON(w http.ResponseWriter, status int, body any) { crmfake.WriteJSON(w, status, body) }

func nonNil[T any](s []T) []T { return crmfake.NonNil(s) }

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

// answer is what a handler decided; serveAPI writes it (or crmfake loses it).
type answer struct {
	status  int
	body    any
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
	latency := f.core.Latency()
	if t := f.tenant(rec.Tenant); t != nil {
		t.settle(f.opts.Now()) // scheduled cancellations end by the fake's clock alone
	}
	a, fault := f.admitAndFault(r, rec)
	if a.status == 0 && (fault == nil || fault.Kind == FaultLoseAnswer) {
		a = f.route(r.Method, path, r.URL.Query(), raw, f.tenant(rec.Tenant))
	}
	if fault == nil || fault.Kind != FaultHang && fault.Kind != FaultLoseAnswer {
		rec.Status = a.status
	}
	logged := f.core.Log(rec)
	f.mu.Unlock()

	answered := f.core.Deliver(w, r, latency, fault, func(w http.ResponseWriter) {
		for k, v := range a.headers {
			w.Header().Set(k, v)
		}
		writeJSON(w, a.status, a.body)
	})
	if !answered { // the client gave up before the answer: like a hang, it got no status
		f.core.Update(logged, func(r *Request) { r.Status = 0 })
	}
}

// admitAndFault runs the checks every request goes through — auth, tenant, rate limit —
// then picks a fault. A refused request consumes no fault. f.mu held.
func (f *Fake) admitAndFault(r *http.Request, rec Request) (answer, *crmfake.Fault) {
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
	fault := f.core.Take(crmfake.Call{Method: r.Method, Path: rec.Path, Scope: rec.Tenant})
	if fault == nil {
		return answer{}, nil
	}
	switch fault.Kind {
	case FaultStatus: // crmfake sets Retry-After and sends a RawBody
		msg := fault.Message
		if msg == "" {
			msg = "injected failure"
		}
		return fail(fault.Status, "serverError", msg), fault
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
	case method == "GET" && len(parts) == 3 && parts[0] == "customer" && parts[2] == "credit-card":
		if t.customer(parts[1]) == nil {
			return notFound("Customer")
		}
		return listCards(t, parts[1])
	case method == "GET" && len(parts) == 1 && parts[0] == "club-membership":
		return f.listMemberships(t, get("customerId"), get("clubId"), get("page"))
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
		return decodeUpdate(body, func(in membershipUpdate) answer { return f.updateMembership(t, m, in) })
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
