package shopifytest

import (
	"strconv"
	"strings"
)

// SearchMode is how the fake's customers search matches `email:…`.
type SearchMode int

const (
	// SearchExact finds the customer whose email is the term (case-insensitive), oldest
	// first.
	SearchExact SearchMode = iota
	// SearchPrefix finds every customer whose email's local part starts with the term's
	// (ann@example.com finds anne@example.com and ann@other.org), newest first: a
	// near-match made later comes before the customer sought, and with enough of them
	// the customer is on a later page. Shopify's search is a full-text index whose exact
	// matching rules are not documented.
	SearchPrefix
)

// searchMatches reports whether a customer's email is found by a search for term.
func (m SearchMode) matches(email, term string) bool {
	email, term = strings.ToLower(email), strings.ToLower(term)
	if term == "" || email == "" {
		return false
	}
	if m == SearchPrefix {
		local, _, _ := strings.Cut(term, "@")
		got, _, _ := strings.Cut(email, "@")
		return strings.HasPrefix(got, local)
	}
	return email == term
}

// searchCustomers runs a customers(first:, after:, query:) search; f.mu held. Every
// search makes each customer not yet indexed one search closer to being found
// (Options.SearchLag). The cursor is the position in the result list.
func (f *Fake) searchCustomers(s *shopState, term string, first int, after string) map[string]any {
	var found []*Customer
	for _, c := range s.customers {
		if c.hiddenFor > 0 {
			c.hiddenFor--
			continue
		}
		if f.opts.Search.matches(c.Email, term) {
			found = append(found, c)
		}
	}
	if f.opts.Search == SearchPrefix {
		for i, j := 0, len(found)-1; i < j; i, j = i+1, j-1 {
			found[i], found[j] = found[j], found[i]
		}
	}
	start, _ := strconv.Atoi(after)
	start = min(max(start, 0), len(found))
	end := min(start+first, len(found))
	nodes := []map[string]any{}
	for _, c := range found[start:end] {
		nodes = append(nodes, customerNode(c))
	}
	return map[string]any{"nodes": nodes, "pageInfo": map[string]any{
		"hasNextPage": end < len(found), "endCursor": strconv.Itoa(end)}}
}

// customerNode is a customer as the queries answer it: the deprecated email and its
// replacement defaultEmailAddress (null for a customer without an email).
func customerNode(c *Customer) map[string]any {
	var def any
	if c.Email != "" {
		def = map[string]any{"emailAddress": c.Email}
	}
	return map[string]any{"id": c.ID, "email": c.Email, "defaultEmailAddress": def}
}
