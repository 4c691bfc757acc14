package shopifytest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Handler serves the Admin GraphQL endpoint (/admin/api/{version}/graphql.json) and the
// control API under /_fake/shopify/.
func (f *Fake) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /admin/api/{version}/graphql.json", f.serveGraphQL)
	mux.HandleFunc("GET /_fake/shopify/requests", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"requests": nonNil(f.Requests())})
	})
	mux.HandleFunc("GET /_fake/shopify/customers", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"customers": nonNil(f.Customers(r.URL.Query().Get("shop")))})
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
	mux.HandleFunc("POST /_fake/shopify/faults", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Operation, Kind string
			Count, Status   int
			RetryAfter      int `json:"retryAfter"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			writeJSON(w, 400, map[string]string{"error": "malformed JSON: " + err.Error()})
			return
		}
		kind, ok := faultKind(in.Kind)
		if !ok {
			writeJSON(w, 400, map[string]string{"error": "kind must be status, hang, lose_answer or throttle"})
			return
		}
		f.Inject(Fault{Operation: in.Operation, Count: in.Count, Kind: kind, Status: in.Status, RetryAfter: in.RetryAfter})
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

// operation is a parsed GraphQL request: enough of it to run what tiersync sends.
type operation struct {
	mutation  bool
	root      string // the root field
	query     string
	variables map[string]any
	args      map[string]any // the root field's arguments, variables resolved
	rawArgs   map[string]string
}

// parseOperation finds the operation type and its root field.
func parseOperation(query string) (operation, error) {
	op := operation{query: query}
	brace := strings.IndexByte(query, '{')
	if brace < 0 {
		return op, fmt.Errorf("syntax error: no selection set")
	}
	head := strings.TrimSpace(query[:brace])
	switch {
	case strings.HasPrefix(head, "mutation"):
		op.mutation = true
	case head == "" || strings.HasPrefix(head, "query"):
	default:
		return op, fmt.Errorf("syntax error, unexpected %q", strings.Fields(head)[0])
	}
	rest := query[brace+1:]
	name := ident(&rest)
	if strings.HasPrefix(strings.TrimSpace(rest), ":") { // an alias
		rest = strings.TrimSpace(rest)[1:]
		name = ident(&rest)
	}
	if name == "" {
		return op, fmt.Errorf("syntax error: empty selection")
	}
	op.root = name
	op.rawArgs = rootArgs(rest)
	return op, nil
}

// rootArgs reads the root field's argument list: name → "$variable", a string literal or
// a number, as written.
func rootArgs(rest string) map[string]string {
	out := map[string]string{}
	rest = strings.TrimSpace(rest)
	if !strings.HasPrefix(rest, "(") {
		return out
	}
	end := strings.IndexByte(rest, ')')
	if end < 0 {
		return out
	}
	for _, m := range argPair.FindAllStringSubmatch(rest[1:end], -1) {
		out[m[1]] = m[2]
	}
	return out
}

var argPair = regexp.MustCompile(`(\w+)\s*:\s*(\$\w+|"(?:[^"\\]|\\.)*"|-?\d+)`)

// resolve turns the written arguments into values, reading variables.
func (op *operation) resolve() {
	op.args = map[string]any{}
	for name, v := range op.rawArgs {
		switch {
		case strings.HasPrefix(v, "$"):
			op.args[name] = op.variables[v[1:]]
		case strings.HasPrefix(v, `"`):
			var str string
			_ = json.Unmarshal([]byte(v), &str)
			op.args[name] = str
		default:
			n, _ := strconv.Atoi(v)
			op.args[name] = float64(n)
		}
	}
}

func ident(s *string) string {
	t := strings.TrimLeftFunc(*s, unicode.IsSpace)
	end := strings.IndexFunc(t, func(r rune) bool { return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_') })
	if end < 0 {
		end = len(t)
	}
	*s = t[end:]
	return t[:end]
}

// requestedCost is Shopify's calculated cost of the operation: a mutation 10, an object 1,
// a connection 2 plus its page.
func (op operation) requestedCost() float64 {
	if op.mutation {
		return 10
	}
	switch op.root {
	case "customers":
		n := 1
		if f, ok := op.args["first"].(float64); ok && f > 0 {
			n = int(f)
		}
		return float64(2 + n)
	case "customer":
		return 1 + float64(len(metafieldAliases.FindAllString(op.query, -1)))
	}
	return 1
}

const invalidToken = "[API] Invalid API key or access token (unrecognized login or wrong password)"

func (f *Fake) serveGraphQL(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	f.mu.Lock()
	shop, ok := f.byToken[r.Header.Get("X-Shopify-Access-Token")]
	if !ok || r.Header.Get("X-Shopify-Access-Token") == "" {
		f.requests = append(f.requests, Request{Host: r.Host, Path: r.URL.Path, Status: 401})
		f.mu.Unlock()
		writeJSON(w, 401, map[string]string{"errors": invalidToken})
		return
	}
	var body struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || body.Query == "" {
		f.requests = append(f.requests, Request{Host: r.Host, Path: r.URL.Path, Shop: shop, Status: 400})
		f.mu.Unlock()
		writeJSON(w, 400, map[string]any{"errors": map[string]string{"query": "Required parameter missing or invalid"}})
		return
	}
	op, err := parseOperation(body.Query)
	if err != nil {
		f.requests = append(f.requests, Request{Host: r.Host, Path: r.URL.Path, Shop: shop, Status: 200})
		f.mu.Unlock()
		writeJSON(w, 200, map[string]any{"errors": []map[string]any{{"message": err.Error(), "extensions": map[string]string{"code": "syntaxError"}}}})
		return
	}
	op.variables = body.Variables
	op.resolve()
	rec := Request{Host: r.Host, Path: r.URL.Path, Shop: shop, Operation: op.root, Variables: op.variables, Cost: op.requestedCost()}
	s := f.shops[shop]
	available := f.restore(s)
	latency := f.latency
	// The bucket is checked before any fault: a throttled request uses up no fault.
	throttled := available < rec.Cost
	var fault *Fault
	if !throttled {
		fault = f.takeFault(op.root)
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
	case fault != nil && fault.Kind == FaultStatus:
		status, resp = fault.Status, map[string]any{"errors": fmt.Sprintf("injected %d", fault.Status)}
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
	f.requests = append(f.requests, rec)
	f.mu.Unlock()

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
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
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		case FaultStatus:
			if fault.RetryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(fault.RetryAfter))
			}
		}
	}
	writeJSON(w, status, resp)
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

type userError struct {
	Field   []string `json:"field"`
	Message string   `json:"message"`
}

func uerr(msg string, field ...string) []userError { return []userError{{Field: field, Message: msg}} }

var metafieldAliases = regexp.MustCompile(`(\w+)\s*:\s*metafield\(\s*namespace:\s*"([^"]*)"\s*,\s*key:\s*"([^"]*)"\s*\)`)

// execute runs the operation against the shop; f.mu held. It returns the data and the
// actual cost.
func (f *Fake) execute(s *shopState, op operation) (map[string]any, float64, error) {
	v := op.args
	str := func(k string) string { x, _ := v[k].(string); return x }
	strs := func(k string) []string {
		var out []string
		list, _ := v[k].([]any)
		for _, x := range list {
			if t, ok := x.(string); ok {
				out = append(out, t)
			}
		}
		return out
	}
	switch op.root {
	case "customers":
		email := searchEmail(str("query"))
		limit := int(op.requestedCost()) - 2
		nodes := []map[string]any{}
		for _, c := range s.customers {
			if c.hiddenFor > 0 {
				c.hiddenFor--
				continue
			}
			if email != "" && strings.EqualFold(c.Email, email) && len(nodes) < limit {
				nodes = append(nodes, map[string]any{"id": c.ID, "email": c.Email})
			}
		}
		return map[string]any{"customers": map[string]any{"nodes": nodes}}, float64(2 + len(nodes)), nil
	case "customer":
		c := s.customer(str("id"))
		if c == nil {
			return map[string]any{"customer": nil}, 1, nil
		}
		out := map[string]any{"id": c.ID, "email": c.Email, "tags": sortedTags(append([]string{}, c.Tags...))}
		for _, m := range metafieldAliases.FindAllStringSubmatch(op.query, -1) {
			if mf, ok := c.Metafields[m[2]+"."+m[3]]; ok {
				out[m[1]] = map[string]any{"value": mf.Value}
			} else {
				out[m[1]] = nil
			}
		}
		return map[string]any{"customer": out}, op.requestedCost(), nil
	case "customerCreate":
		in, _ := v["input"].(map[string]any)
		email, _ := in["email"].(string)
		payload := map[string]any{"customer": nil, "userErrors": []userError{}}
		switch {
		case !strings.Contains(email, "@") || strings.ContainsAny(email, " \t"):
			payload["userErrors"] = uerr("Email is invalid", "email")
		default:
			for _, c := range s.customers {
				if strings.EqualFold(c.Email, email) {
					payload["userErrors"] = uerr("Email has already been taken", "email")
				}
			}
		}
		if errs, _ := payload["userErrors"].([]userError); len(errs) == 0 {
			f.nextID++
			c := &Customer{ID: fmt.Sprintf("gid://shopify/Customer/%d", f.nextID), Email: email, Tags: []string{},
				Metafields: map[string]Metafield{}, hiddenFor: f.opts.SearchLag}
			c.FirstName, _ = in["firstName"].(string)
			c.LastName, _ = in["lastName"].(string)
			c.Phone, _ = in["phone"].(string)
			s.customers = append(s.customers, c)
			payload["customer"] = map[string]any{"id": c.ID}
		}
		return map[string]any{"customerCreate": payload}, 10, nil
	case "tagsAdd", "tagsRemove":
		payload := map[string]any{"node": nil, "userErrors": []userError{}}
		c := s.customer(str("id"))
		tags := strs("tags")
		switch {
		case c == nil:
			payload["userErrors"] = uerr("Customer does not exist", "id")
		case len(tags) == 0:
			payload["userErrors"] = uerr("Tags can't be blank", "tags")
		default:
			for _, t := range tags {
				t = strings.TrimSpace(t)
				if op.root == "tagsAdd" && !hasTag(c.Tags, t) {
					c.Tags = append(c.Tags, t)
				}
				if op.root == "tagsRemove" {
					kept := c.Tags[:0]
					for _, x := range c.Tags {
						if !strings.EqualFold(x, t) {
							kept = append(kept, x)
						}
					}
					c.Tags = kept
				}
			}
			payload["node"] = map[string]any{"id": c.ID}
		}
		return map[string]any{op.root: payload}, 10, nil
	case "metafieldsSet":
		return map[string]any{"metafieldsSet": setMetafields(s, v["metafields"])}, 10, nil
	case "metafieldsDelete":
		list, _ := v["metafields"].([]any)
		deleted := []any{}
		for _, x := range list {
			m, _ := x.(map[string]any)
			owner, _ := m["ownerId"].(string)
			ns, _ := m["namespace"].(string)
			key, _ := m["key"].(string)
			c := s.customer(owner)
			if c == nil {
				deleted = append(deleted, nil)
				continue
			}
			if _, ok := c.Metafields[ns+"."+key]; !ok {
				deleted = append(deleted, nil)
				continue
			}
			delete(c.Metafields, ns+"."+key)
			deleted = append(deleted, map[string]any{"ownerId": owner, "namespace": ns, "key": key})
		}
		return map[string]any{"metafieldsDelete": map[string]any{"deletedMetafields": deleted, "userErrors": []userError{}}}, 10, nil
	}
	kind := "QueryRoot"
	if op.mutation {
		kind = "Mutation"
	}
	return nil, 1, fmt.Errorf("Field '%s' doesn't exist on type '%s'", op.root, kind)
}

// metafieldValid checks a value against its metafield type; nil: an unknown type.
func metafieldValid(typ string) func(string) bool {
	return map[string]func(string) bool{
		"single_line_text_field": func(v string) bool { return !strings.ContainsAny(v, "\n") },
		"multi_line_text_field":  func(string) bool { return true },
		"date_time": func(v string) bool {
			_, err := time.Parse(time.RFC3339, v)
			return err == nil
		},
		"date": func(v string) bool {
			_, err := time.Parse("2006-01-02", v)
			return err == nil
		},
		"number_integer": func(v string) bool {
			_, err := strconv.ParseInt(v, 10, 64)
			return err == nil
		},
		"boolean": func(v string) bool { return v == "true" || v == "false" },
	}[typ]
}

// setMetafields validates every input first and applies none if one is wrong, as
// metafieldsSet does.
func setMetafields(s *shopState, raw any) map[string]any {
	list, _ := raw.([]any)
	var errs []userError
	type set struct {
		c       *Customer
		key     string
		ns, k   string
		mf      Metafield
		ownerID string
	}
	var sets []set
	if len(list) == 0 || len(list) > 25 {
		errs = append(errs, userError{Field: []string{"metafields"}, Message: "between 1 and 25 metafields can be set at once"})
	}
	for i, x := range list {
		m, _ := x.(map[string]any)
		get := func(k string) string { v, _ := m[k].(string); return v }
		at := func(f string) []string { return []string{"metafields", strconv.Itoa(i), f} }
		c := s.customer(get("ownerId"))
		switch {
		case c == nil:
			errs = append(errs, userError{at("ownerId"), "Owner does not exist"})
		case len(get("namespace")) < 3:
			errs = append(errs, userError{at("namespace"), "Namespace is too short (minimum is 3 characters)"})
		case get("key") == "":
			errs = append(errs, userError{at("key"), "Key can't be blank"})
		case metafieldValid(get("type")) == nil:
			errs = append(errs, userError{at("type"), "Type is not a valid metafield type"})
		case !metafieldValid(get("type"))(get("value")):
			errs = append(errs, userError{at("value"), fmt.Sprintf("Value is invalid for type %s", get("type"))})
		default:
			sets = append(sets, set{c: c, key: get("namespace") + "." + get("key"), ns: get("namespace"), k: get("key"),
				mf: Metafield{Type: get("type"), Value: get("value")}, ownerID: c.ID})
		}
	}
	if len(errs) > 0 {
		return map[string]any{"metafields": nil, "userErrors": errs}
	}
	out := []map[string]any{}
	for _, st := range sets {
		st.c.Metafields[st.key] = st.mf
		out = append(out, map[string]any{"key": st.k, "namespace": st.ns, "value": st.mf.Value, "ownerId": st.ownerID})
	}
	return map[string]any{"metafields": out, "userErrors": []userError{}}
}

var emailTerm = regexp.MustCompile(`email:\s*(?:"((?:[^"\\]|\\.)*)"|(\S+))`)

// searchEmail reads the email of an `email:"…"` or `email:…` search term.
func searchEmail(q string) string {
	m := emailTerm.FindStringSubmatch(q)
	if m == nil {
		return ""
	}
	if m[1] != "" {
		return strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(m[1])
	}
	return m[2]
}
