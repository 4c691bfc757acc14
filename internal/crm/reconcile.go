package crm

import "context"

// Member is one live membership the CRM holds in a tier tiersync maps (a Commerce7
// membership Active or On Hold in the tier's club; a Shopify customer carrying the tier's
// tag): what reconciliation compares with our enrollments.
type Member struct {
	CustomerID string // the CRM's customer id
	// Email is the customer's email when the listing carries it (Shopify), else "".
	Email  string
	TierID string // the tiersync tier (Tier.ID) whose club or tag this is
	// MembershipID is the CRM's membership id (Commerce7); "" where the CRM has none.
	MembershipID string
	// TierNote is what else the CRM says of the customer's tier, when it disagrees with
	// TierID: Shopify's tiersync.tier metafield naming another tier, or missing. "" when
	// it agrees or the CRM has no such thing.
	TierNote string
}

// Lister reads a client's memberships in bulk, for reconciliation. The Commerce7 and
// Shopify providers implement it next to Provider.
type Lister interface {
	// ListMembers reads one page of the live members of tiers, starting at cursor (""
	// for the first page), and returns the cursor of the next page ("" after the last).
	// The cursor is opaque, stored by the caller with the page's members, so that a
	// reconciliation resumes where it stopped after a crash: a provider must accept a
	// cursor it gave in another process. A page may be empty while next is not ""
	// (a page of memberships in clubs tiersync does not map).
	ListMembers(ctx context.Context, tiers []Tier, cursor string) (members []Member, next string, err error)
	// CustomerMembers reads one customer's live members in tiers: a difference found in
	// a listing is confirmed with it before it is repaired (a listing read page by page
	// while the CRM changes can miss a membership).
	CustomerMembers(ctx context.Context, crmCustomerID string, tiers []Tier) ([]Member, error)
	// CustomerEmail reads a customer's email ("" when it has none): a member whose CRM id
	// is none of our customers' may be one of them under another id.
	CustomerEmail(ctx context.Context, crmCustomerID string) (string, error)
}
