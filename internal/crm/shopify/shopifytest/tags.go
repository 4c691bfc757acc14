package shopifytest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// The customers search by tag: `customers(first:, after:, sortKey: ID, query: "tag:a OR
// tag:b")`. Shopify documents the search grammar (terms, OR, quoted values) but not how a
// tag term matches, nor how soon a tag change is searchable: the switches below model
// each reading, so that a client can be tested against all of them.

// TagSearchMode is how the fake's customers search matches a `tag:` term.
type TagSearchMode int

const (
	// TagSearchExact finds customers carrying the tag, compared case-insensitively (tags
	// themselves are: tagsAdd of "VIP" to a customer tagged "vip" adds nothing).
	TagSearchExact TagSearchMode = iota
	// TagSearchCaseSensitive finds only customers carrying the tag in the same case.
	TagSearchCaseSensitive
	// TagSearchPrefix finds customers carrying any tag that begins with the term
	// (case-insensitive): tag:club-gold finds club-gold-alumni too, as a search that
	// matches words or prefixes rather than whole tags would.
	TagSearchPrefix
	// TagSearchIgnored ignores the tag terms and lists every customer, as API version
	// 2024-07 did with the disabled tag filter, silently.
	TagSearchIgnored
)

func (m TagSearchMode) String() string {
	switch m {
	case TagSearchExact:
		return "exact"
	case TagSearchCaseSensitive:
		return "case-sensitive"
	case TagSearchPrefix:
		return "prefix"
	case TagSearchIgnored:
		return "ignored"
	}
	return "TagSearchMode(" + strconv.Itoa(int(m)) + ")"
}

// matches reports whether a customer with tags is found by the terms.
func (m TagSearchMode) matches(tags, terms []string) bool {
	if m == TagSearchIgnored {
		return true
	}
	for _, term := range terms {
		for _, tag := range tags {
			switch m {
			case TagSearchCaseSensitive:
				if tag == term {
					return true
				}
			case TagSearchPrefix:
				if strings.HasPrefix(strings.ToLower(tag), strings.ToLower(term)) {
					return true
				}
			default:
				if strings.EqualFold(tag, term) {
					return true
				}
			}
		}
	}
	return false
}

// parseTagQuery reads a search made of `tag:` terms joined by OR; a value is a name or a
// quoted string (single or double quotes, backslash escapes), as Shopify's search syntax
// has it. A query not starting with `tag:` is not a tag search (the email search reads
// it). The fake refuses anything else in a tag search (an implied AND, other fields):
// tiersync sends none, and a client sending one should fail its tests, not be half-read.
func parseTagQuery(q string) (tags []string, isTagSearch bool, err error) {
	rest := strings.TrimSpace(q)
	if !strings.HasPrefix(rest, "tag:") {
		return nil, false, nil
	}
	refuse := func(why string) ([]string, bool, error) {
		return nil, true, fmt.Errorf("shopifytest: a tag search is tag: terms joined by OR (%s): %q", why, q)
	}
	for {
		if !strings.HasPrefix(rest, "tag:") {
			return refuse("expected tag:")
		}
		rest = rest[len("tag:"):]
		var value string
		var ok bool
		if value, rest, ok = searchValue(rest); !ok {
			return refuse("unterminated quote")
		}
		if value == "" {
			return refuse("an empty tag")
		}
		tags = append(tags, value)
		rest = strings.TrimLeft(rest, " \t\n")
		if rest == "" {
			return tags, true, nil
		}
		or, after, _ := strings.Cut(rest, " ")
		if or != "OR" {
			return refuse("terms not joined by OR")
		}
		rest = strings.TrimLeft(after, " \t\n")
	}
}

// searchValue reads one value at the start of s: a quoted string, or a name running to
// the next whitespace; a backslash escapes the next character in either.
func searchValue(s string) (value, rest string, ok bool) {
	var b strings.Builder
	quote := byte(0)
	if s != "" && (s[0] == '"' || s[0] == '\'') {
		quote, s = s[0], s[1:]
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case quote != 0 && c == quote:
			return b.String(), s[i+1:], true
		case quote == 0 && (c == ' ' || c == '\t' || c == '\n'):
			return b.String(), s[i:], true
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), "", quote == 0
}

// tagCursor is what a cursor of the tag search holds: the position after the last
// customer of the page, by the sort key, not an offset, so that a cursor stays right
// when customers before it are deleted or untagged, and works in any later request
// (Shopify's cursors are opaque base64 of the same kind of position).
type tagCursor struct {
	LastID    int64  `json:"last_id"`
	LastValue string `json:"last_value"`
}

func encodeCursor(id int64) string {
	raw, _ := json.Marshal(tagCursor{LastID: id, LastValue: strconv.FormatInt(id, 10)})
	return base64.StdEncoding.EncodeToString(raw)
}

func decodeCursor(s string) (int64, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	var c tagCursor
	if err == nil {
		err = json.Unmarshal(raw, &c)
	}
	if err != nil || c.LastID <= 0 {
		return 0, fmt.Errorf("shopifytest: invalid cursor %q", s)
	}
	return c.LastID, nil
}

// numericID is the number at the end of a customer GID.
func numericID(gid string) int64 {
	n, _ := strconv.ParseInt(gid[strings.LastIndexByte(gid, '/')+1:], 10, 64)
	return n
}

// searchTags runs a tag search, sorted by ID; f.mu held. Each search brings every lagging
// customer one search closer to its current tags (Options.TagSearchLag). The email
// search's SearchLag (a new customer not yet found) does not apply: a customer made a
// moment ago has no tags to be found by.
func (f *Fake) searchTags(s *shopState, op operation, terms []string, after string) (map[string]any, error) {
	var lastID int64
	if after != "" {
		var err error
		if lastID, err = decodeCursor(after); err != nil {
			return nil, err
		}
	}
	sorted := append([]*Customer{}, s.customers...)
	sort.Slice(sorted, func(i, j int) bool { return numericID(sorted[i].ID) < numericID(sorted[j].ID) })
	var found []*Customer
	for _, c := range sorted {
		seen := c.Tags
		if c.tagLag > 0 {
			seen = c.indexedTags
		}
		if numericID(c.ID) > lastID && f.opts.TagSearch.matches(seen, terms) {
			found = append(found, c)
		}
	}
	for _, c := range s.customers {
		if c.tagLag > 0 {
			if c.tagLag--; c.tagLag == 0 {
				c.indexedTags = nil
			}
		}
	}
	n := min(op.first(), len(found))
	nodes := []map[string]any{}
	var end any // null on an empty page, as a connection answers
	for _, c := range found[:n] {
		nodes = append(nodes, fullNode(c, op))
		end = encodeCursor(numericID(c.ID))
	}
	return map[string]any{"nodes": nodes, "pageInfo": map[string]any{"hasNextPage": len(found) > n, "endCursor": end}}, nil
}

// fullNode is a customer with its tags and every metafield the query selects by alias
// (`tier: metafield(namespace: "tiersync", key: "tier") { value }`), null when unset.
func fullNode(c *Customer, op operation) map[string]any {
	out := customerNode(c)
	out["tags"] = sortedTags(append([]string{}, c.Tags...))
	for _, m := range metafieldAliases.FindAllStringSubmatch(op.query, -1) {
		if mf, ok := c.Metafields[m[2]+"."+m[3]]; ok {
			out[m[1]] = map[string]any{"value": mf.Value}
		} else {
			out[m[1]] = nil
		}
	}
	return out
}

// tagsChanging is called before a customer's tags change; f.mu held. With
// Options.TagSearchLag the tag search keeps seeing the tags from before the first change
// it has not caught up with, for that many searches after the latest change.
func (f *Fake) tagsChanging(c *Customer) {
	if f.opts.TagSearchLag <= 0 {
		return
	}
	if c.tagLag == 0 {
		c.indexedTags = append([]string{}, c.Tags...)
	}
	c.tagLag = f.opts.TagSearchLag
}
