package c7test

import (
	"fmt"
	"time"
)

// Customers' credit cards, as Commerce7's API serves them: GET /customer/{id}/credit-card
// → {"customerCreditCards": [...]}. The card itself (token, number) stays with Commerce7
// and its payment gateway; a club membership refers to it by id (customerCreditCardId).

// CreditCard is a customer's card on file.
type CreditCard struct {
	ID               string    `json:"id"`
	CustomerID       string    `json:"customerId"`
	CardBrand        string    `json:"cardBrand"`
	MaskedCardNumber string    `json:"maskedCardNumber"`
	ExpiryMo         int       `json:"expiryMo"`
	ExpiryYr         int       `json:"expiryYr"`
	IsDefault        bool      `json:"isDefault"`
	CreatedAt        time.Time `json:"createdAt"`
}

// AddCreditCard gives a customer a card (the merchant added it in Commerce7). The first
// card of a customer is the default one; a default card added later takes the default
// over. Empty fields get a Visa ending in 4242 that expires in three years.
func (f *Fake) AddCreditCard(tenant string, c CreditCard) CreditCard {
	card, err := f.addCreditCard(tenant, c)
	if err != nil {
		panic(err.Error()) // a mistake in the test itself, as seedTenant's
	}
	return card
}

func (f *Fake) addCreditCard(tenant string, c CreditCard) (CreditCard, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tenant(tenant)
	if t == nil {
		return CreditCard{}, fmt.Errorf("c7test: AddCreditCard: tenant %q does not exist", tenant)
	}
	if t.customer(c.CustomerID) == nil {
		return CreditCard{}, fmt.Errorf("c7test: AddCreditCard: tenant %q has no customer %q", tenant, c.CustomerID)
	}
	now := f.opts.Now().UTC()
	if c.ID == "" {
		c.ID = newID()
	}
	if c.CardBrand == "" {
		c.CardBrand = "Visa"
	}
	if c.MaskedCardNumber == "" {
		c.MaskedCardNumber = "************4242"
	}
	if c.ExpiryMo == 0 || c.ExpiryYr == 0 {
		c.ExpiryMo, c.ExpiryYr = int(now.Month()), now.Year()+3
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	cards := t.cardsOf[c.CustomerID]
	c.IsDefault = c.IsDefault || len(cards) == 0
	for _, x := range cards {
		if c.IsDefault {
			x.IsDefault = false
		}
	}
	t.cardsOf[c.CustomerID] = append(cards, &c)
	return c, nil
}

// CreditCards returns the customer's cards.
func (f *Fake) CreditCards(tenant, customerID string) []CreditCard {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []CreditCard
	if t := f.tenants[tenant]; t != nil {
		for _, c := range t.cardsOf[customerID] {
			out = append(out, *c)
		}
	}
	return out
}

func listCards(t *tenantState, customerID string) answer {
	var out []CreditCard
	for _, c := range t.cardsOf[customerID] {
		out = append(out, *c)
	}
	return answer{status: 200, body: map[string]any{"customerCreditCards": nonNil(out), "total": len(out)}}
}

// checkCard is Options.RequireCard: a new membership needs a card of its customer's own;
// t's lock held. Off, any card id (or none) is taken as it is.
func (f *Fake) checkCard(t *tenantState, in membershipIn) []fieldError {
	if !f.opts.RequireCard {
		return nil
	}
	if in.CustomerCreditCardID == "" {
		// Commerce7's help: "Club Memberships require a credit card on file."
		return []fieldError{{"customerCreditCardId", "A credit card on file is required for a club membership"}}
	}
	for _, c := range t.cardsOf[in.CustomerID] {
		if c.ID == in.CustomerCreditCardID {
			return nil
		}
	}
	return []fieldError{{"customerCreditCardId", "Credit card not found for this customer"}}
}
