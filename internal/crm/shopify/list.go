package shopify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"tiersync/internal/crm"
)

// Bulk reads for reconciliation (crm.Lister): a shop's members are the customers carrying
// a mapped tier's tag, found with the customers search, one page a call.

var _ crm.Lister = (*Provider)(nil)

const (
	// listPageSize is 100 customers a page: requested cost 2 + 100 × 3 = 302 (listMembersCost),
	// under a third of the 1 000 a single query may cost, and restored in about 3 s at the
	// standard plan's 100 points a second (6 s at 50), inside the client's default 10 s
	// Timeout, so waitForBudget waits rather than handing the page back as throttled. 250
	// (the most a connection gives) would request 752 and wait 7.5 s for an empty bucket.
	listPageSize = 100
	// listMembersQuery selects per customer: the customer (1), defaultEmailAddress (an
	// object, 1), the tier metafield (an object, 1); id and tags are scalars (0).
	// sortKey: ID makes the cursor a position in ID order, which does not move when
	// customers before it change, and means the same thing in any later request.
	listMembersQuery = `query ListMembers($query: String!, $first: Int!, $after: String) {
  customers(first: $first, after: $after, sortKey: ID, query: $query) {
    nodes { id defaultEmailAddress { emailAddress } tags tier: metafield(namespace: "tiersync", key: "tier") { value } }
    pageInfo { hasNextPage endCursor }
  }
}`
	listMembersCost = 2 + listPageSize*3

	customerEmailQuery = `query CustomerEmail($id: ID!) {
  customer(id: $id) { defaultEmailAddress { emailAddress } }
}`
	customerEmailCost = 2 // the customer and its defaultEmailAddress

	// listThrottleWaits is how many THROTTLED (or 429) answers one Lister call waits out
	// before handing the error to its caller: a reconciliation reads many pages in a row
	// and should not fail one because another app drained the bucket a moment ago, but a
	// bucket that stays empty is the caller's to wait for (RetryAfter), not a worker's.
	listThrottleWaits = 3
)

// listNode is one customer of a listing page, or the customer of CustomerMembers.
type listNode struct {
	ID                  string
	DefaultEmailAddress *struct{ EmailAddress string }
	Tags                []string
	Tier                *struct{ Value string }
}

// mappedTiers are the tiers with a Shopify tag: a tier without one has no members here.
func mappedTiers(tiers []crm.Tier) []crm.Tier {
	var out []crm.Tier
	for _, t := range tiers {
		if strings.TrimSpace(t.ShopifyTag) != "" {
			out = append(out, t)
		}
	}
	return out
}

// tagSearch is the customers search for any of the tiers' tags: `tag:"a" OR tag:"b"`,
// each tag quoted (a tag may hold spaces, quotes, colons or parentheses, which the search
// grammar reads as syntax outside quotes) with backslash and double quote escaped, and
// each tag once whatever its case.
func tagSearch(tiers []crm.Tier) string {
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	var terms []string
	seen := map[string]bool{}
	for _, t := range tiers {
		tag := strings.TrimSpace(t.ShopifyTag)
		if key := strings.ToLower(tag); !seen[key] {
			seen[key] = true
			terms = append(terms, `tag:"`+esc.Replace(tag)+`"`)
		}
	}
	return strings.Join(terms, " OR ")
}

// members are the node's members in tiers: one per tier whose tag the customer carries
// now. The node's own tags decide, never the search that found it: the search may match
// more than whole tags, in another case, or lag behind a change, and a customer it
// returns without the tag is no member. Tags compare case-insensitively, as Shopify
// keeps one tag whatever its case.
func (n listNode) members(tiers []crm.Tier, withEmail bool) []crm.Member {
	var out []crm.Member
	for _, t := range tiers {
		if !carries(n.Tags, t.ShopifyTag) {
			continue
		}
		m := crm.Member{CustomerID: n.ID, TierID: t.ID, TierNote: tierNote(n.Tier, t)}
		if withEmail && n.DefaultEmailAddress != nil {
			m.Email = crm.CleanText(strings.TrimSpace(n.DefaultEmailAddress.EmailAddress), crm.MaxQuoted)
		}
		out = append(out, m)
	}
	return out
}

func carries(tags []string, tag string) bool {
	tag = strings.TrimSpace(tag)
	for _, t := range tags {
		if strings.EqualFold(strings.TrimSpace(t), tag) {
			return true
		}
	}
	return false
}

// tierNote says what the tiersync.tier metafield says when it is not the tag's tier's
// name (tiersync writes the name exactly, so anything else is someone else's edit, or a
// tier half added or half cancelled). The value is the merchant's text: cleaned and quoted.
func tierNote(mf *struct{ Value string }, t crm.Tier) string {
	switch {
	case mf == nil:
		return "metafield " + Namespace + ".tier is missing"
	case mf.Value != t.Name:
		return fmt.Sprintf("metafield %s.tier is %q", Namespace, crm.CleanText(mf.Value, crm.MaxQuoted))
	}
	return ""
}

// ListMembers reads one page of the customers carrying any of the tiers' tags (one
// request, requested cost listMembersCost) and returns a member per mapped tag each
// carries, with the next page's cursor: Shopify's endCursor, "" after the last page. The
// cursor is Shopify's own, a position in ID order: a fresh Provider (another process,
// after a crash) resumes with it. A page may hold no member (customers the search found
// but not carrying a mapped tag). No tier with a tag: no members, and no request (an
// empty search would list the whole shop).
func (p *Provider) ListMembers(ctx context.Context, tiers []crm.Tier, cursor string) ([]crm.Member, string, error) {
	const op = "list members"
	tiers = mappedTiers(tiers)
	if len(tiers) == 0 {
		return nil, "", nil
	}
	vars := map[string]any{"query": tagSearch(tiers), "first": listPageSize, "after": nil}
	if cursor != "" {
		vars["after"] = cursor
	}
	var data struct {
		Customers struct {
			Nodes    []listNode
			PageInfo struct {
				HasNextPage bool
				EndCursor   *string
			}
		}
	}
	// A listing is low priority: it leaves a share of the shop's bucket for live work.
	if err := p.c.waitLeavingReserve(ctx, p.shop, listMembersCost, op); err != nil {
		return nil, "", err
	}
	if err := p.readWaiting(ctx, op, listMembersCost, listMembersQuery, vars, &data); err != nil {
		return nil, "", err
	}
	var out []crm.Member
	for _, n := range data.Customers.Nodes {
		if err := crm.CheckID("shopify", op, n.ID); err != nil {
			return nil, "", err
		}
		out = append(out, n.members(tiers, true)...)
	}
	page := data.Customers.PageInfo
	if !page.HasNextPage {
		return out, "", nil
	}
	if page.EndCursor == nil || *page.EndCursor == "" || *page.EndCursor == cursor {
		// Resuming from "" would start over, and from the same cursor would loop forever.
		return nil, "", &crm.Error{Class: crm.Retryable, CRM: "shopify", Op: op,
			Message: "Shopify said there is a next page but gave no new cursor for it"}
	}
	return out, *page.EndCursor, nil
}

// CustomerMembers reads one customer (its tags and tiersync.tier metafield: getCustomerQuery,
// cost 2) and returns its members in tiers, without their email (the read does not pay
// for it; CustomerEmail has it). A customer Shopify no longer has is a member of nothing.
func (p *Provider) CustomerMembers(ctx context.Context, crmCustomerID string, tiers []crm.Tier) ([]crm.Member, error) {
	const op = "read customer members"
	tiers = mappedTiers(tiers)
	if len(tiers) == 0 {
		return nil, nil
	}
	var data struct{ Customer *listNode }
	if err := p.readWaiting(ctx, op, getCustomerCost, getCustomerQuery, map[string]any{"id": crmCustomerID}, &data); err != nil {
		return nil, err
	}
	if data.Customer == nil {
		return nil, nil
	}
	// The id asked for, not the one answered: the caller compares it with what it holds.
	data.Customer.ID = crmCustomerID
	return data.Customer.members(tiers, false), nil
}

// CustomerEmail reads the customer's default email address: "" when it has none, or
// Shopify no longer has the customer.
func (p *Provider) CustomerEmail(ctx context.Context, crmCustomerID string) (string, error) {
	var data struct {
		Customer *struct {
			DefaultEmailAddress *struct{ EmailAddress string }
		}
	}
	if err := p.readWaiting(ctx, "read customer email", customerEmailCost, customerEmailQuery, map[string]any{"id": crmCustomerID}, &data); err != nil {
		return "", err
	}
	if data.Customer == nil || data.Customer.DefaultEmailAddress == nil {
		return "", nil
	}
	return crm.CleanText(strings.TrimSpace(data.Customer.DefaultEmailAddress.EmailAddress), crm.MaxQuoted), nil
}

// readWaiting is graphql for the Lister's reads, waiting out up to listThrottleWaits
// THROTTLED or 429 answers whose wait fits in the request Timeout (Config.Wait, the same
// clock waitForBudget uses; the bucket figures of the THROTTLED answer are recorded, so
// the next send's waitForBudget agrees). A longer wait, or the last refusal, is returned
// as the Throttled error, RetryAfter set: the caller waits, then asks for the same page.
func (p *Provider) readWaiting(ctx context.Context, op string, cost float64, query string, vars map[string]any, out any) error {
	for waits := 0; ; waits++ {
		err := p.graphql(ctx, op, cost, query, vars, out)
		var e *crm.Error
		if err == nil || waits == listThrottleWaits || !errors.As(err, &e) || !p.c.waitable(e) {
			return err
		}
		if werr := p.c.cfg.Wait(ctx, e.RetryAfter); werr != nil {
			return err // cancelled while waiting: the caller gets Shopify's answer, RetryAfter and all
		}
	}
}

// waitable is a refusal for the rate (THROTTLED in a 200, or a 429) short enough to wait
// out in place. Other Throttled errors are not: waitForBudget's own (the wait is already
// longer than Timeout) and a token refused again right after its renewal (the app may be
// uninstalled; the queue's row holds, see graphql).
func (c *Client) waitable(e *crm.Error) bool {
	return e.Class == crm.Throttled && (e.Status == http.StatusOK || e.Status == http.StatusTooManyRequests) &&
		e.RetryAfter > 0 && e.RetryAfter <= c.cfg.Timeout
}
