package commerce7

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"tiersync/internal/crm"
)

// What a customer has on file in Commerce7 that a new membership refers to: an address
// (bill-to, ship-to) and a credit card.

// defaultAddress returns the customer's default address in Commerce7; when there is none
// and the enrollment brought one, it is created (as the default) first.
func (p *Provider) defaultAddress(ctx context.Context, c crm.Customer) (string, error) {
	var res struct {
		CustomerAddresses []address `json:"customerAddresses"`
	}
	path := "/customer/" + url.PathEscape(c.CRMID) + "/address"
	if err := p.do(ctx, "list customer addresses", http.MethodGet, path, nil, nil, &res); err != nil {
		return "", err
	}
	for _, a := range res.CustomerAddresses {
		if a.IsDefault {
			return a.ID, nil
		}
	}
	if len(res.CustomerAddresses) > 0 {
		return res.CustomerAddresses[0].ID, nil
	}
	return p.createAddress(ctx, c)
}

// createAddress gives the customer the enrollment's address as their default and returns
// its id ("" when the enrollment brought none).
func (p *Provider) createAddress(ctx context.Context, c crm.Customer) (string, error) {
	if c.Address == nil {
		return "", nil
	}
	path := "/customer/" + url.PathEscape(c.CRMID) + "/address"
	body := map[string]any{
		"firstName":   c.FirstName,
		"lastName":    c.LastName,
		"address":     c.Address.Address,
		"address2":    c.Address.Address2,
		"city":        c.Address.City,
		"stateCode":   c.Address.StateCode,
		"zipCode":     c.Address.ZipCode,
		"countryCode": c.Address.CountryCode,
		"isDefault":   true,
	}
	var created address
	if err := p.do(ctx, "create customer address", http.MethodPost, path, nil, body, &created); err != nil {
		return "", err
	}
	return created.ID, nil
}

type creditCard struct {
	ID        string `json:"id"`
	IsDefault bool   `json:"isDefault"`
}

// defaultCard returns the id of the customer's default card in Commerce7 (the first card
// when none is marked default), "" when the customer has none. Commerce7's help says club
// memberships require a card on file, and its admin picks the customer's default
// (documentation.commerce7.com/how-to-create-a-club-membership). The list is
// GET /customer/{id}/credit-card → {"customerCreditCards": [...]}, as public code reads it
// (BrainstormWilly/yno-libero-vino, app/lib/crm/commerce7.server.ts).
func (p *Provider) defaultCard(ctx context.Context, customerID string) (string, error) {
	var res struct {
		CustomerCreditCards []creditCard `json:"customerCreditCards"`
	}
	path := "/customer/" + url.PathEscape(customerID) + "/credit-card"
	if err := p.do(ctx, "list customer credit cards", http.MethodGet, path, nil, nil, &res); err != nil {
		return "", err
	}
	for _, c := range res.CustomerCreditCards {
		if c.IsDefault {
			return c.ID, nil
		}
	}
	if len(res.CustomerCreditCards) > 0 {
		return res.CustomerCreditCards[0].ID, nil
	}
	return "", nil
}

// noCard turns Commerce7's refusal of a membership made without a card into a message an
// operator can act on. The queue row is not known here: the message says "the queue row",
// and the row's own page shows which. Only refusals that speak of a card are rewritten, so
// an address error is never blamed on the card.
func noCard(err error) error {
	e, ok := err.(*crm.Error)
	if !ok || e.Class != crm.Permanent || !strings.Contains(strings.ToLower(e.Message), "card") {
		return err
	}
	out := *e
	out.Message = "the customer has no credit card in Commerce7, and club memberships require one: " +
		"add a card to this customer in Commerce7, then retry the queue row (Commerce7 said: " + e.Message + ")"
	return &out
}
