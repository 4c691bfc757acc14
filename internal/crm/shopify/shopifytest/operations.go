package shopifytest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The operations the fake runs, against one shop's state, as the Admin API answers them.

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
	case "shop":
		// The shop the token belongs to (a connection check): its name is the domain's
		// first label, as a new shop's is until the merchant renames it.
		name, _, _ := strings.Cut(s.domain, ".")
		return map[string]any{"shop": map[string]any{"name": name, "myshopifyDomain": s.domain}}, 1, nil
	case "customers":
		after, _ := v["after"].(string)
		var page map[string]any
		if tags, isTagSearch, err := parseTagQuery(str("query")); isTagSearch {
			if err != nil {
				return nil, 1, err
			}
			if sk, _ := v["sortKey"].(string); sk != "" && sk != "ID" {
				return nil, 1, fmt.Errorf("shopifytest: a tag search sorts by ID only, not %s", sk)
			}
			if page, err = f.searchTags(s, op, tags, after); err != nil {
				return nil, 1, err
			}
		} else {
			page = f.searchCustomers(s, searchEmail(str("query")), op.first(), after)
		}
		return map[string]any{"customers": page}, float64(2 + op.customerNodeCost()*len(page["nodes"].([]map[string]any))), nil
	case "customer":
		c := s.customer(str("id"))
		if c == nil {
			return map[string]any{"customer": nil}, 1, nil
		}
		return map[string]any{"customer": fullNode(c, op)}, op.requestedCost(), nil
	case "customerCreate":
		in, _ := v["input"].(map[string]any)
		email, _ := in["email"].(string)
		payload := map[string]any{"customer": nil, "userErrors": []userError{}}
		phone, _ := in["phone"].(string)
		var errs []userError
		switch {
		case !strings.Contains(email, "@") || strings.ContainsAny(email, " \t"):
			errs = uerr("Email is invalid", "email")
		default:
			for _, c := range s.customers {
				if strings.EqualFold(c.Email, email) {
					errs = uerr("Email has already been taken", "email")
				}
			}
		}
		// Every field is validated, as Shopify does: a taken email and a taken phone
		// come back together.
		errs = append(errs, f.phoneErrors(s, phone)...)
		if len(errs) > 0 {
			payload["userErrors"] = errs
		}
		if errs, _ := payload["userErrors"].([]userError); len(errs) == 0 {
			f.nextID++
			c := &Customer{ID: fmt.Sprintf("gid://shopify/Customer/%d", f.nextID), Email: email, Tags: []string{},
				Metafields: map[string]Metafield{}, hiddenFor: f.opts.SearchLag}
			c.FirstName, _ = in["firstName"].(string)
			c.LastName, _ = in["lastName"].(string)
			c.Phone, _ = normalPhone(phone)
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
			f.tagsChanging(c)
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
	case "webhookSubscriptions":
		after, _ := v["after"].(string)
		page := f.listSubscriptions(s, strs("topics"), op.first(), after)
		return map[string]any{"webhookSubscriptions": page}, float64(2 + len(page["nodes"].([]map[string]any))), nil
	case "webhookSubscriptionCreate":
		if !topics[str("topic")] { // an enum GraphQL refuses before the mutation runs
			return nil, 1, fmt.Errorf("Variable $topic of type WebhookSubscriptionTopic! was provided invalid value")
		}
		in, _ := v["webhookSubscription"].(map[string]any)
		return map[string]any{"webhookSubscriptionCreate": f.createSubscription(s, str("topic"), in)}, 10, nil
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
