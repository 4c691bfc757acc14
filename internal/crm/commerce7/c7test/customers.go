package c7test

import (
	"fmt"
	"strings"
)

// Customers and their addresses, as Commerce7's API serves them.

type emailIn struct {
	Email string `json:"email"`
}

type phoneIn struct {
	Phone string `json:"phone"`
}

type customerIn struct {
	FirstName string    `json:"firstName"`
	LastName  string    `json:"lastName"`
	Emails    []emailIn `json:"emails"`
	Phones    []phoneIn `json:"phones"`
}

// customerOut is a customer as the API shows it.
func customerOut(c Customer) map[string]any {
	emails := []emailIn{}
	for _, e := range c.Emails {
		emails = append(emails, emailIn{e})
	}
	phones := []phoneIn{}
	if c.Phone != "" {
		phones = append(phones, phoneIn{c.Phone})
	}
	return map[string]any{"id": c.ID, "firstName": c.FirstName, "lastName": c.LastName, "emails": emails,
		"phones": phones, "createdAt": c.CreatedAt, "updatedAt": c.CreatedAt}
}

// searchCustomers is fuzzy like Commerce7's: any email or name containing the text.
func (f *Fake) searchCustomers(t *tenantState, q, p string) answer {
	q = strings.ToLower(strings.TrimSpace(q))
	var hits []map[string]any
	for _, c := range t.customers {
		match := q == "" || strings.Contains(strings.ToLower(c.FirstName), q) || strings.Contains(strings.ToLower(c.LastName), q)
		for _, e := range c.Emails {
			match = match || strings.Contains(strings.ToLower(e), q)
		}
		if match {
			hits = append(hits, customerOut(*c))
		}
	}
	return answer{status: 200, body: map[string]any{"customers": nonNil(paged(hits, page(p))), "total": len(hits)}}
}

func (f *Fake) createCustomer(t *tenantState, in customerIn) answer {
	var errs []fieldError
	if strings.TrimSpace(in.FirstName) == "" {
		errs = append(errs, fieldError{"firstName", "firstName is required"})
	}
	if strings.TrimSpace(in.LastName) == "" {
		errs = append(errs, fieldError{"lastName", "lastName is required"})
	}
	if len(in.Emails) == 0 {
		errs = append(errs, fieldError{"emails", "at least one email is required"})
	}
	c := Customer{ID: newID(), FirstName: in.FirstName, LastName: in.LastName, CreatedAt: f.opts.Now().UTC()}
	for _, e := range in.Emails {
		if !strings.Contains(e.Email, "@") {
			errs = append(errs, fieldError{"emails", fmt.Sprintf("%q is not an email", e.Email)})
		}
		c.Emails = append(c.Emails, e.Email)
	}
	if len(errs) > 0 {
		return invalid(errs...)
	}
	if len(in.Phones) > 0 {
		c.Phone = in.Phones[0].Phone
	}
	// No duplicate check: Commerce7 does not reliably refuse a second customer with the
	// same email, which is why callers must search first.
	t.addCustomer(&c)
	return answer{status: 201, body: customerOut(c)}
}

func createAddress(t *tenantState, customerID string, in Address) answer {
	var errs []fieldError
	for _, req := range []struct{ field, v string }{{"address", in.Address}, {"city", in.City}, {"zipCode", in.ZipCode}, {"countryCode", in.CountryCode}} {
		if strings.TrimSpace(req.v) == "" {
			errs = append(errs, fieldError{req.field, req.field + " is required"})
		}
	}
	if in.CountryCode == "US" && strings.TrimSpace(in.StateCode) == "" {
		errs = append(errs, fieldError{"stateCode", "stateCode is required for US addresses"})
	}
	if len(errs) > 0 {
		return invalid(errs...)
	}
	in.ID, in.CustomerID = "", customerID
	return answer{status: 201, body: *t.addAddress(in)}
}
