package shopify

import (
	"context"
	"strings"
	"time"

	"tiersync/internal/crm"
)

// Provider is the Shopify crm.Provider for one shop.
type Provider struct {
	c        *Client
	clientID string
	shop     string
	tokens   Tokens // the shop's access token, renewed on a 401 (tokens.go)
}

var _ crm.Provider = (*Provider)(nil)

// Namespace holds tiersync's customer metafields: "tier" (the tier's name, for the
// storefront) and "expires_at".
const Namespace = "tiersync"

// The operations, with their costs as Shopify calculates them (an object 1, a connection 2
// plus its page, a mutation 10), which the client makes sure the bucket can pay first.
const (
	// The search asks for a page of candidates, never first: 1: Shopify's search is not an
	// exact match (a prefix or a near-match may come first), so the exact email is picked
	// from the page. The email is read from defaultEmailAddress: Customer.email is
	// deprecated since 2025-04.
	findCustomerQuery = `query FindCustomer($query: String!, $after: String) {
  customers(first: 10, after: $after, query: $query) {
    nodes { id defaultEmailAddress { emailAddress } }
    pageInfo { hasNextPage endCursor }
  }
}`
	// A connection 2, plus each of its 10 nodes: the customer 1 and its
	// defaultEmailAddress 1.
	findCustomerCost = 22
	// findCustomerPages bounds how far the search pages for the exact email among
	// near-matches: 50 candidates. Past that the customer counts as not found; creating it
	// then answers "Email has already been taken" if it exists, and the row is retried.
	findCustomerPages = 5

	getCustomerQuery = `query GetCustomer($id: ID!) {
  customer(id: $id) { id tags tier: metafield(namespace: "tiersync", key: "tier") { value } }
}`
	getCustomerCost = 2

	createCustomerMutation = `mutation CreateCustomer($input: CustomerInput!) {
  customerCreate(input: $input) { customer { id } userErrors { field message } }
}`
	tagsAddMutation = `mutation AddTags($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) { node { id } userErrors { field message } }
}`
	tagsRemoveMutation = `mutation RemoveTags($id: ID!, $tags: [String!]!) {
  tagsRemove(id: $id, tags: $tags) { node { id } userErrors { field message } }
}`
	metafieldsSetMutation = `mutation SetMetafields($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) { metafields { key value } userErrors { field message } }
}`
	metafieldsDeleteMutation = `mutation DeleteMetafields($metafields: [MetafieldIdentifierInput!]!) {
  metafieldsDelete(metafields: $metafields) { deletedMetafields { key } userErrors { field message } }
}`
	mutationCost = 10
)

// permanent is a failure no retry fixes; msg may quote Shopify's userErrors, so it is
// cleaned (crm.CleanText) like every CRM-supplied text.
func permanent(op, msg string) error {
	return &crm.Error{Class: crm.Permanent, CRM: "shopify", Op: op, Message: crm.CleanText(msg, crm.MaxQuoted)}
}

// emailTaken is Shopify's answer to a customer whose email another customer has: on the
// email field. The same words on another field (a phone another customer has) are not an
// email collision, and reading them as one would look for the customer by email forever.
func emailTaken(e userError) bool {
	taken := strings.Contains(strings.ToLower(e.Message), "has already been taken")
	if len(e.Field) == 0 {
		// A userError may come without its field: then only the message says which.
		return taken && strings.HasPrefix(strings.ToLower(strings.TrimSpace(e.Message)), "email")
	}
	return taken && strings.EqualFold(e.Field[len(e.Field)-1], "email")
}

// onlyPhone reports whether every error is about the phone (field [..., "phone"]).
func onlyPhone(errs []userError) bool {
	for _, e := range errs {
		if len(e.Field) == 0 || !strings.EqualFold(e.Field[len(e.Field)-1], "phone") {
			return false
		}
	}
	return len(errs) > 0
}

// searchQuery is Shopify's search syntax for one exact email.
func searchQuery(email string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `email:"` + r.Replace(email) + `"`
}

func (p *Provider) findCustomer(ctx context.Context, email string) (string, error) {
	vars := map[string]any{"query": searchQuery(email), "after": nil}
	for range findCustomerPages {
		var data struct {
			Customers struct {
				Nodes []struct {
					ID                  string
					DefaultEmailAddress *struct{ EmailAddress string }
				}
				PageInfo struct {
					HasNextPage bool
					EndCursor   string
				}
			}
		}
		if err := p.graphql(ctx, "find customer", findCustomerCost, findCustomerQuery, vars, &data); err != nil {
			return "", err
		}
		for _, n := range data.Customers.Nodes {
			if n.DefaultEmailAddress != nil && strings.EqualFold(strings.TrimSpace(n.DefaultEmailAddress.EmailAddress), email) {
				return n.ID, nil
			}
		}
		page := data.Customers.PageInfo
		if !page.HasNextPage || page.EndCursor == "" {
			return "", nil
		}
		vars["after"] = page.EndCursor
	}
	return "", nil
}

// ensureCustomer returns the customer's Shopify id (a GID): the stored one while Shopify
// still has it (a merchant may delete a customer and make it again), else the one with
// this email, else a new customer (see createCustomer).
func (p *Provider) ensureCustomer(ctx context.Context, c crm.Customer) (id string, created bool, err error) {
	if c.CRMID != "" {
		var data struct {
			Customer *struct{ ID string }
		}
		if err := p.graphql(ctx, "read customer", getCustomerCost, getCustomerQuery, map[string]any{"id": c.CRMID}, &data); err != nil {
			return "", false, err
		}
		if data.Customer != nil {
			return data.Customer.ID, false, nil
		}
	}
	if id, err := p.findCustomer(ctx, c.Email); err != nil || id != "" {
		return id, false, err
	}
	return p.createCustomer(ctx, c)
}

// createCustomer makes the customer. Two answers are not failures:
//   - "Email has already been taken" (on the email field only): an earlier attempt made
//     it (its answer was lost) and the search has not caught up: read again;
//   - errors on the phone alone (taken by another customer, which Shopify refuses, or not
//     a number it can dial): the phone is an extra, not worth failing the enrollment for,
//     so the customer is made again without it and Config.OnNote says so.
func (p *Provider) createCustomer(ctx context.Context, c crm.Customer) (string, bool, error) {
	input := map[string]any{"email": c.Email, "firstName": c.FirstName, "lastName": c.LastName}
	if c.Phone != "" {
		input["phone"] = c.Phone
	}
	var phoneRefused []userError // set once the phone was dropped
	for {
		var data struct {
			CustomerCreate struct {
				Customer   *struct{ ID string }
				UserErrors []userError
			}
		}
		if err := p.graphql(ctx, "create customer", mutationCost, createCustomerMutation, map[string]any{"input": input}, &data); err != nil {
			return "", false, err
		}
		res := data.CustomerCreate
		if len(res.UserErrors) == 0 && res.Customer != nil {
			if phoneRefused != nil {
				p.c.note(p.shop, "create customer", "customer "+res.Customer.ID+" was created without its phone number, which Shopify refused ("+
					userErrorsText(phoneRefused)+"); the phone stays in tiersync only")
			}
			return res.Customer.ID, true, nil
		}
		for _, e := range res.UserErrors {
			if emailTaken(e) {
				id, err := p.findCustomer(ctx, c.Email)
				if err != nil || id != "" {
					return id, false, err
				}
				return "", false, &crm.Error{Class: crm.Retryable, CRM: "shopify", Op: "create customer",
					Message: "the email is taken but the search does not find its customer yet; retrying"}
			}
		}
		if _, sent := input["phone"]; sent && onlyPhone(res.UserErrors) {
			delete(input, "phone")
			phoneRefused = res.UserErrors
			continue
		}
		return "", false, permanent("create customer", userErrorsText(res.UserErrors))
	}
}

func (p *Provider) tags(ctx context.Context, op, mutation, field, customerID, tag string) error {
	var data map[string]struct {
		UserErrors []userError `json:"userErrors"`
	}
	if err := p.graphql(ctx, op, mutationCost, mutation, map[string]any{"id": customerID, "tags": []string{tag}}, &data); err != nil {
		return err
	}
	if errs := data[field].UserErrors; len(errs) > 0 {
		return permanent(op, userErrorsText(errs))
	}
	return nil
}

func (p *Provider) setMetafields(ctx context.Context, customerID string, tier crm.Tier, expires time.Time) error {
	fields := []map[string]string{
		{"ownerId": customerID, "namespace": Namespace, "key": "tier", "type": "single_line_text_field", "value": tier.Name},
	}
	if !expires.IsZero() {
		fields = append(fields, map[string]string{"ownerId": customerID, "namespace": Namespace, "key": "expires_at",
			"type": "date_time", "value": expires.UTC().Format(time.RFC3339)})
	}
	var data struct {
		MetafieldsSet struct{ UserErrors []userError }
	}
	if err := p.graphql(ctx, "set metafields", mutationCost, metafieldsSetMutation, map[string]any{"metafields": fields}, &data); err != nil {
		return err
	}
	if errs := data.MetafieldsSet.UserErrors; len(errs) > 0 {
		return permanent("set metafields", userErrorsText(errs))
	}
	return nil
}

func checkTier(t crm.Tier) error {
	if t.ShopifyTag == "" {
		return permanent("map tier", "tier "+t.Name+" ("+t.ID+") has no shopify_tag")
	}
	return nil
}

// AddMembership tags the customer with the tier's tag and sets the metafields. Both are
// idempotent in Shopify (adding a tag it has is no change; metafieldsSet overwrites), so
// a repeat leaves the customer as one run does. Shopify has no membership id: "".
func (p *Provider) AddMembership(ctx context.Context, m crm.MembershipChange) (string, error) {
	if err := checkTier(m.Tier); err != nil {
		return "", err
	}
	if err := p.tags(ctx, "add tag", tagsAddMutation, "tagsAdd", m.Customer.CRMID, m.Tier.ShopifyTag); err != nil {
		return "", err
	}
	return "", p.setMetafields(ctx, m.Customer.CRMID, m.Tier, m.ExpiresAt)
}

// CancelMembership removes the tier's tag; the metafields go too when they still describe
// this tier (they may already describe a newer one). Other tags are never touched.
func (p *Provider) CancelMembership(ctx context.Context, m crm.MembershipChange, _ string) error {
	if err := checkTier(m.Tier); err != nil {
		return err
	}
	if m.Customer.CRMID == "" {
		return nil // never reached Shopify: nothing to cancel
	}
	var data struct {
		Customer *struct {
			Tags []string
			Tier *struct{ Value string }
		}
	}
	if err := p.graphql(ctx, "read customer", getCustomerCost, getCustomerQuery, map[string]any{"id": m.Customer.CRMID}, &data); err != nil {
		return err
	}
	if data.Customer == nil {
		return nil // the merchant deleted the customer: nothing left to cancel
	}
	for _, t := range data.Customer.Tags {
		if strings.EqualFold(t, m.Tier.ShopifyTag) {
			if err := p.tags(ctx, "remove tag", tagsRemoveMutation, "tagsRemove", m.Customer.CRMID, m.Tier.ShopifyTag); err != nil {
				return err
			}
			break
		}
	}
	if data.Customer.Tier == nil || data.Customer.Tier.Value != m.Tier.Name {
		return nil
	}
	ids := []map[string]string{
		{"ownerId": m.Customer.CRMID, "namespace": Namespace, "key": "tier"},
		{"ownerId": m.Customer.CRMID, "namespace": Namespace, "key": "expires_at"},
	}
	var del struct {
		MetafieldsDelete struct{ UserErrors []userError }
	}
	if err := p.graphql(ctx, "delete metafields", mutationCost, metafieldsDeleteMutation, map[string]any{"metafields": ids}, &del); err != nil {
		return err
	}
	if errs := del.MetafieldsDelete.UserErrors; len(errs) > 0 {
		return permanent("delete metafields", userErrorsText(errs))
	}
	return nil
}

// UpgradeMembership adds the new tier's tag, removes the old one's and points the
// metafields at the new tier. Each step is idempotent, so a retry after a crash midway
// finishes the job.
func (p *Provider) UpgradeMembership(ctx context.Context, m crm.MembershipChange) (string, error) {
	if err := checkTier(m.Tier); err != nil {
		return "", err
	}
	if m.OldTier == nil {
		return "", permanent("upgrade", "no old tier")
	}
	if err := checkTier(*m.OldTier); err != nil {
		return "", err
	}
	if err := p.tags(ctx, "add tag", tagsAddMutation, "tagsAdd", m.Customer.CRMID, m.Tier.ShopifyTag); err != nil {
		return "", err
	}
	if !strings.EqualFold(m.OldTier.ShopifyTag, m.Tier.ShopifyTag) {
		if err := p.tags(ctx, "remove tag", tagsRemoveMutation, "tagsRemove", m.Customer.CRMID, m.OldTier.ShopifyTag); err != nil {
			return "", err
		}
	}
	return "", p.setMetafields(ctx, m.Customer.CRMID, m.Tier, m.ExpiresAt)
}

// EnsureCustomer returns the customer's Shopify id (see ensureCustomer), checked
// (crm.CheckID) before the syncer stores it: it goes into SQL and into the next query.
func (p *Provider) EnsureCustomer(ctx context.Context, c crm.Customer) (string, bool, error) {
	id, created, err := p.ensureCustomer(ctx, c)
	if err != nil {
		return "", false, err
	}
	if err := crm.CheckID("shopify", "ensure customer", id); err != nil {
		return "", false, err
	}
	return id, created, nil
}

// checkQuery is Check's read: the shop the token belongs to. Every Admin API token may
// read it (no access scope), so it tests the token and the shop, not the app's scopes.
const (
	checkQuery = `query CheckConnection { shop { name } }`
	checkCost  = 1
)

// Check makes one cheap authenticated read at the shop (`query { shop { name } }`, cost 1)
// through the connection's tokens: a token due for renewal is renewed first, and a 401
// renews it once, as for every call; a shop that cannot give a token answers that error.
// Like every request it takes a token from the client's rate bucket.
func (p *Provider) Check(ctx context.Context) error {
	var data struct {
		Shop *struct {
			Name string `json:"name"`
		} `json:"shop"`
	}
	if err := p.graphql(ctx, "check connection", checkCost, checkQuery, nil, &data); err != nil {
		return err
	}
	if data.Shop == nil {
		return permanent("check connection", "Shopify answered no shop")
	}
	return nil
}
