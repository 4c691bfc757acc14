package shopifytest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Reading the GraphQL tiersync sends: enough of the language to find the operation, its
// root field and arguments, and Shopify's calculated cost.

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

// rootArgs reads the root field's argument list: name → "$variable", a string literal, a
// number or an enum value (sortKey: ID), as written.
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

var argPair = regexp.MustCompile(`(\w+)\s*:\s*(\$\w+|"(?:[^"\\]|\\.)*"|-?\d+|[A-Z][A-Z0-9_]*\b)`)

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
		case v[0] >= 'A' && v[0] <= 'Z': // an enum value: its name
			op.args[name] = v
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
		return float64(2 + op.first()*op.customerNodeCost())
	case "customer":
		return 1 + float64(len(metafieldAliases.FindAllString(op.query, -1))) +
			float64(strings.Count(op.query, "defaultEmailAddress"))
	case "webhookSubscriptions":
		return float64(2 + op.first())
	}
	return 1
}

// customerNodeCost is what one customer of a customers page costs: the customer, and each
// object selected in it (defaultEmailAddress, each aliased metafield); tags is a list of
// scalars, free.
func (op operation) customerNodeCost() int {
	return 1 + strings.Count(op.query, "defaultEmailAddress") + len(metafieldAliases.FindAllString(op.query, -1))
}

// first is the connection's page size: the first argument, 1 without it (Shopify requires
// one), at most 250.
func (op operation) first() int {
	n := 1
	if f, ok := op.args["first"].(float64); ok && f > 0 {
		n = int(min(f, 250))
	}
	return n
}
