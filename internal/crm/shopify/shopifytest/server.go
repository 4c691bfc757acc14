package shopifytest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"tiersync/internal/crm/crmfake"
)

// Handler serves the Admin GraphQL endpoint (/admin/api/{version}/graphql.json), the
// OAuth endpoints (/admin/oauth/access_token, /admin/oauth/authorize) and the control API
// under /_fake/shopify/.
func (f *Fake) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /admin/api/{version}/graphql.json", f.serveGraphQL)
	f.registerOAuth(mux) // the token endpoint, the authorization page, apps and installs
	f.core.Register(mux, crmfake.Control{Prefix: "/_fake/shopify", Kinds: faultKinds(),
		Fault: func(in crmfake.FaultRequest, kind crmfake.Kind) crmfake.Fault {
			return Fault{Operation: in.Operation, Count: in.Count, Kind: kind, Status: in.Status, RetryAfter: in.RetryAfter,
				Shop: in.Shop, Message: in.Message, RawBody: in.RawBody}.generic()
		}})
	mux.HandleFunc("GET /_fake/shopify/customers", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"customers": crmfake.NonNil(f.Customers(r.URL.Query().Get("shop")))})
	})
	mux.HandleFunc("POST /_fake/shopify/shops", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Shop, Token string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Shop == "" || in.Token == "" {
			writeJSON(w, 400, map[string]string{"error": `want {"shop", "token"}`})
			return
		}
		f.AddShop(in.Shop, in.Token)
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

const invalidToken = "[API] Invalid API key or access token (unrecognized login or wrong password)"

func (f *Fake) serveGraphQL(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	// One critical section decides, applies and logs the request, as in c7test.
	f.mu.Lock()
	shop, ok := f.shopForToken(r.Header.Get("X-Shopify-Access-Token"))
	if !ok { // unknown, expired, or its app uninstalled: Shopify answers all alike
		f.core.Log(Request{Host: r.Host, Path: r.URL.Path, Status: 401})
		f.mu.Unlock()
		writeJSON(w, 401, map[string]string{"errors": invalidToken})
		return
	}
	var body struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || body.Query == "" {
		f.core.Log(Request{Host: r.Host, Path: r.URL.Path, Shop: shop, Status: 400})
		f.mu.Unlock()
		writeJSON(w, 400, map[string]any{"errors": map[string]string{"query": "Required parameter missing or invalid"}})
		return
	}
	op, err := parseOperation(body.Query)
	if err != nil {
		f.core.Log(Request{Host: r.Host, Path: r.URL.Path, Shop: shop, Status: 200})
		f.mu.Unlock()
		writeJSON(w, 200, map[string]any{"errors": []map[string]any{{"message": err.Error(), "extensions": map[string]string{"code": "syntaxError"}}}})
		return
	}
	op.variables = body.Variables
	op.resolve()
	rec := Request{Host: r.Host, Path: r.URL.Path, Shop: shop, Operation: op.root, Variables: op.variables, Cost: op.requestedCost()}
	s := f.shops[shop]
	available := f.restore(s)
	latency := f.core.Latency()
	// The bucket is checked before any fault: a throttled request uses up no fault.
	throttled := available < rec.Cost
	var fault *crmfake.Fault
	if !throttled {
		fault = f.core.Take(crmfake.Call{Operation: op.root, Scope: shop})
		if fault != nil && fault.Kind == FaultThrottle {
			throttled, available, fault = true, 0, nil // as if another app had drained the bucket
		}
	}

	var status int
	var resp any
	switch {
	case throttled:
		rec.Throttled = true
		status, resp = 200, map[string]any{
			"errors": []map[string]any{{"message": "Throttled", "extensions": map[string]any{
				"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}},
			"extensions": f.costExtension(rec.Cost, nil, available),
		}
	case fault != nil && fault.Kind == FaultStatus: // crmfake sets Retry-After and sends a RawBody
		msg := fault.Message
		if msg == "" {
			msg = fmt.Sprintf("injected %d", fault.Status)
		}
		status, resp = fault.Status, map[string]any{"errors": msg}
	case fault != nil && fault.Kind == FaultHang:
	default:
		data, actual, gerr := f.execute(s, op)
		s.available -= actual
		ext := f.costExtension(rec.Cost, &actual, s.available)
		if gerr != nil {
			status, resp = 200, map[string]any{"errors": []map[string]any{{"message": gerr.Error(),
				"extensions": map[string]string{"code": "undefinedField"}}}, "extensions": ext}
		} else {
			status, resp = 200, map[string]any{"data": data, "extensions": ext}
		}
	}
	if fault == nil || fault.Kind == FaultStatus {
		rec.Status = status
	}
	logged := f.core.Log(rec)
	f.mu.Unlock()

	f.markDeprecated(w.Header(), r.PathValue("version"), op.query)
	answered := f.core.Deliver(w, r, latency, fault, func(w http.ResponseWriter) { writeJSON(w, status, resp) })
	if !answered { // the client gave up before the answer: it got no status
		f.core.Update(logged, func(r *Request) { r.Status = 0 })
	}
}

func (f *Fake) costExtension(requested float64, actual *float64, available float64) map[string]any {
	return map[string]any{"cost": map[string]any{
		"requestedQueryCost": requested,
		"actualQueryCost":    actual,
		"throttleStatus": map[string]any{
			"maximumAvailable":   f.opts.BucketSize,
			"currentlyAvailable": available,
			"restoreRate":        f.opts.RestoreRate,
		},
	}}
}
