package commerce7

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"tiersync/internal/crm"
)

// Provider is the Commerce7 crm.Provider for one tenant.
type Provider struct {
	c        *Client
	clientID string
	tenant   string
}

var _ crm.Provider = (*Provider)(nil)

// Membership statuses that count as "a member of this club": On Hold is a member who
// paused shipments, not one who left.
const (
	statusActive    = "Active"
	statusOnHold    = "On Hold"
	statusCancelled = "Cancelled"
)

type customer struct {
	ID     string `json:"id"`
	Emails []struct {
		Email string `json:"email"`
	} `json:"emails"`
}

type address struct {
	ID        string `json:"id"`
	IsDefault bool   `json:"isDefault"`
}

type membership struct {
	ID                        string     `json:"id"`
	CustomerID                string     `json:"customerId"`
	ClubID                    string     `json:"clubId"`
	Status                    string     `json:"status"`
	BillToCustomerAddressID   string     `json:"billToCustomerAddressId"`
	ShipToCustomerAddressID   string     `json:"shipToCustomerAddressId"`
	CustomerCreditCardID      string     `json:"customerCreditCardId"`
	PickupInventoryLocationID string     `json:"pickupInventoryLocationId"`
	CancelDate                *time.Time `json:"cancelDate"`
}

func (m membership) live() bool { return m.Status == statusActive || m.Status == statusOnHold }

// pageSize is Commerce7's page size for lists; a short page is the last one.
const pageSize = 50

// maxPages bounds a listing, so a CRM that keeps answering full pages cannot keep a worker
// forever (100 pages: 5 000 memberships of one customer, far beyond any real one).
const maxPages = 100

// ensureCustomer returns the customer's Commerce7 id: the stored one, else the customer
// whose email matches exactly, else a new customer (created true). The search comes first
// so that a creation whose answer was lost is found, not made twice.
func (p *Provider) ensureCustomer(ctx context.Context, c crm.Customer) (id string, created bool, err error) {
	if c.CRMID != "" {
		return c.CRMID, false, nil
	}
	id, err = p.findCustomer(ctx, c.Email)
	if err != nil || id != "" {
		return id, false, err
	}
	body := map[string]any{
		"firstName": c.FirstName,
		"lastName":  c.LastName,
		"emails":    []map[string]string{{"email": c.Email}},
	}
	if c.Phone != "" {
		body["phones"] = []map[string]string{{"phone": c.Phone}}
	}
	var made customer
	if err := p.do(ctx, "create customer", http.MethodPost, "/customer", nil, body, &made); err != nil {
		return "", false, err
	}
	return made.ID, true, nil
}

// findCustomer pages through the fuzzy search and keeps the customer whose email is
// exactly this one (case-insensitive): q=ann@x.com also finds joann@x.com.
func (p *Provider) findCustomer(ctx context.Context, email string) (string, error) {
	for page := 1; page <= maxPages; page++ {
		var res struct {
			Customers []customer `json:"customers"`
			Total     int        `json:"total"`
		}
		q := url.Values{"q": {email}, "page": {strconv.Itoa(page)}}
		if err := p.do(ctx, "search customer", http.MethodGet, "/customer", q, nil, &res); err != nil {
			return "", err
		}
		for _, c := range res.Customers {
			for _, e := range c.Emails {
				if strings.EqualFold(strings.TrimSpace(e.Email), email) {
					return c.ID, nil
				}
			}
		}
		if len(res.Customers) < pageSize || page*pageSize >= res.Total {
			return "", nil
		}
	}
	return "", nil
}

func checkTier(t crm.Tier) error {
	if t.C7ClubID == "" {
		return &crm.Error{Class: crm.Permanent, CRM: "commerce7", Op: "map tier",
			Message: fmt.Sprintf("tier %s (%s) has no c7_club_id", t.Name, t.ID)}
	}
	return nil
}

// Customer reads one customer (GET /customer/{id}): an order webhook may name a customer
// without its email.
func (p *Provider) Customer(ctx context.Context, id string) (crm.Customer, error) {
	var c struct {
		ID        string `json:"id"`
		FirstName string `json:"firstName"`
		LastName  string `json:"lastName"`
		Emails    []struct {
			Email string `json:"email"`
		} `json:"emails"`
	}
	if err := p.do(ctx, "read customer", http.MethodGet, "/customer/"+url.PathEscape(id), nil, nil, &c); err != nil {
		return crm.Customer{}, err
	}
	out := crm.Customer{CRMID: c.ID, FirstName: c.FirstName, LastName: c.LastName}
	if len(c.Emails) > 0 {
		out.Email = c.Emails[0].Email
	}
	return out, nil
}

// The Provider methods that hand back a CRM id check it (crm.CheckID) before the syncer
// stores it: it goes into SQL, and into the next request's URL.

// EnsureCustomer returns the customer's Commerce7 id (see ensureCustomer).
func (p *Provider) EnsureCustomer(ctx context.Context, c crm.Customer) (string, bool, error) {
	id, created, err := p.ensureCustomer(ctx, c)
	id, err = checkedID(id, err)("ensure customer")
	return id, created && err == nil, err
}

// AddMembership makes the customer a member of the tier's club (see addMembership).
func (p *Provider) AddMembership(ctx context.Context, m crm.MembershipChange) (string, error) {
	return checkedID(p.addMembership(ctx, m))("add club membership")
}

// UpgradeMembership moves the customer to the new tier's club (see upgradeMembership).
func (p *Provider) UpgradeMembership(ctx context.Context, m crm.MembershipChange) (string, error) {
	return checkedID(p.upgradeMembership(ctx, m))("upgrade club membership")
}

// checkedID passes an operation's id on if it is one we can store.
func checkedID(id string, err error) func(op string) (string, error) {
	return func(op string) (string, error) {
		if err != nil {
			return "", err
		}
		if err := crm.CheckID("commerce7", op, id); err != nil {
			return "", err
		}
		return id, nil
	}
}

// checkQuery is what Check searches for: a string no customer's name or email holds, so the
// answer is an empty page however large the tenant.
const checkQuery = "tiersync-connection-check"

// Check makes one cheap authenticated read at the tenant: the first page of a customer
// search that matches nobody (GET /customer?q=…&page=1). Commerce7 documents no endpoint
// that only says "these credentials reach this tenant"; the customer search is the read
// tiersync already needs (Customer read permission), it needs the app's credentials and the
// tenant header, and an empty page costs nothing to send back. Like every request it takes
// a token from the client's rate bucket.
func (p *Provider) Check(ctx context.Context) error {
	var res struct {
		Customers []customer `json:"customers"`
	}
	q := url.Values{"q": {checkQuery}, "page": {"1"}}
	return p.do(ctx, "check connection", http.MethodGet, "/customer", q, nil, &res)
}
