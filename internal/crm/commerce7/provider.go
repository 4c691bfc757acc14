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
// whose email matches exactly, else a new customer. The search comes first so that a
// creation whose answer was lost is found, not made twice.
func (p *Provider) ensureCustomer(ctx context.Context, c crm.Customer) (string, error) {
	if c.CRMID != "" {
		return c.CRMID, nil
	}
	id, err := p.findCustomer(ctx, c.Email)
	if err != nil || id != "" {
		return id, err
	}
	body := map[string]any{
		"firstName": c.FirstName,
		"lastName":  c.LastName,
		"emails":    []map[string]string{{"email": c.Email}},
	}
	if c.Phone != "" {
		body["phones"] = []map[string]string{{"phone": c.Phone}}
	}
	var created customer
	if err := p.do(ctx, "create customer", http.MethodPost, "/customer", nil, body, &created); err != nil {
		return "", err
	}
	return created.ID, nil
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

// memberships lists every membership of the customer (all clubs, all statuses).
func (p *Provider) memberships(ctx context.Context, customerID string) ([]membership, error) {
	var all []membership
	for page := 1; page <= maxPages; page++ {
		var res struct {
			ClubMemberships []membership `json:"clubMemberships"`
			Total           int          `json:"total"`
		}
		q := url.Values{"customerId": {customerID}, "page": {strconv.Itoa(page)}}
		if err := p.do(ctx, "list club memberships", http.MethodGet, "/club-membership", q, nil, &res); err != nil {
			return nil, err
		}
		all = append(all, res.ClubMemberships...)
		if len(res.ClubMemberships) < pageSize || len(all) >= res.Total {
			break
		}
	}
	return all, nil
}

// inClub returns the customer's live membership in club, and the newest cancelled one
// (the one an interrupted upgrade left behind).
func inClub(ms []membership, club string) (live, cancelled *membership) {
	for i := range ms {
		m := &ms[i]
		if m.ClubID != club {
			continue
		}
		switch {
		case m.live():
			if live == nil {
				live = m
			}
		case m.Status == statusCancelled:
			cancelled = m // the list is oldest first: the last one wins
		}
	}
	return live, cancelled
}

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
	if c.Address == nil {
		return "", nil
	}
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

// ids are the address and card ids a new membership is created with.
type ids struct{ billTo, shipTo, card, pickup string }

func (p *Provider) create(ctx context.Context, m crm.MembershipChange, with ids) (string, error) {
	delivery := m.Tier.C7DeliveryMethod
	if delivery == "" {
		delivery = "Ship"
	}
	body := map[string]any{
		"customerId":          m.Customer.CRMID,
		"clubId":              m.Tier.C7ClubID,
		"orderDeliveryMethod": delivery,
		"signupDate":          p.c.cfg.Now().UTC().Format(time.RFC3339),
	}
	if !m.EnrolledAt.IsZero() {
		body["signupDate"] = m.EnrolledAt.UTC().Format(time.RFC3339)
	}
	if with.billTo != "" {
		body["billToCustomerAddressId"] = with.billTo
	}
	if with.shipTo == "" {
		with.shipTo = with.billTo // a Pickup member moving to a Ship club: ship where they are billed
	}
	if with.shipTo != "" && delivery == "Ship" {
		body["shipToCustomerAddressId"] = with.shipTo
	}
	if with.card != "" {
		body["customerCreditCardId"] = with.card
	}
	if with.pickup != "" && delivery == "Pickup" {
		body["pickupInventoryLocationId"] = with.pickup
	}
	var created membership
	if err := p.do(ctx, "create club membership", http.MethodPost, "/club-membership", nil, body, &created); err != nil {
		return "", err
	}
	return created.ID, nil
}

func (p *Provider) cancel(ctx context.Context, id, reason string) error {
	body := map[string]any{
		"cancelDate":         p.c.cfg.Now().UTC().Format(time.RFC3339),
		"cancellationReason": reason,
	}
	return p.do(ctx, "cancel club membership", http.MethodPut, "/club-membership/"+url.PathEscape(id), nil, body, nil)
}

func checkTier(t crm.Tier) error {
	if t.C7ClubID == "" {
		return &crm.Error{Class: crm.Permanent, CRM: "commerce7", Op: "map tier",
			Message: fmt.Sprintf("tier %s (%s) has no c7_club_id", t.Name, t.ID)}
	}
	return nil
}

// addMembership makes the customer a member of the tier's club, unless they already are
// (Active or On Hold): then that membership is the answer.
func (p *Provider) addMembership(ctx context.Context, m crm.MembershipChange) (string, error) {
	if err := checkTier(m.Tier); err != nil {
		return "", err
	}
	ms, err := p.memberships(ctx, m.Customer.CRMID)
	if err != nil {
		return "", err
	}
	if live, _ := inClub(ms, m.Tier.C7ClubID); live != nil {
		return live.ID, nil
	}
	addr, err := p.defaultAddress(ctx, m.Customer)
	if err != nil {
		return "", err
	}
	return p.create(ctx, m, ids{billTo: addr, shipTo: addr})
}

// CancelMembership cancels every live membership of the customer in the tier's club (one,
// normally); other clubs are never touched. None left is success.
func (p *Provider) CancelMembership(ctx context.Context, m crm.MembershipChange, reason string) error {
	if err := checkTier(m.Tier); err != nil {
		return err
	}
	if m.Customer.CRMID == "" {
		return nil // never reached the CRM: nothing to cancel
	}
	ms, err := p.memberships(ctx, m.Customer.CRMID)
	if err != nil {
		return err
	}
	for _, x := range ms {
		if x.ClubID == m.Tier.C7ClubID && x.live() {
			if err := p.cancel(ctx, x.ID, reason); err != nil {
				return err
			}
		}
	}
	return nil
}

// upgradeMembership cancels the old club's membership ("Switching to another club") and
// creates the new one with the old one's address and card ids. Each step checks first:
// after a crash between the two, the ids are read from the cancelled old membership; when
// the new membership exists already, it is the answer.
func (p *Provider) upgradeMembership(ctx context.Context, m crm.MembershipChange) (string, error) {
	if err := checkTier(m.Tier); err != nil {
		return "", err
	}
	if m.OldTier == nil {
		return "", &crm.Error{Class: crm.Permanent, CRM: "commerce7", Op: "upgrade", Message: "no old tier"}
	}
	if err := checkTier(*m.OldTier); err != nil {
		return "", err
	}
	ms, err := p.memberships(ctx, m.Customer.CRMID)
	if err != nil {
		return "", err
	}
	newLive, _ := inClub(ms, m.Tier.C7ClubID)
	oldLive, oldCancelled := inClub(ms, m.OldTier.C7ClubID)
	if oldLive != nil && m.OldTier.C7ClubID != m.Tier.C7ClubID {
		if err := p.cancel(ctx, oldLive.ID, crm.ReasonSwitching); err != nil {
			return "", err
		}
	}
	if newLive != nil {
		return newLive.ID, nil
	}
	source := oldLive
	if source == nil {
		source = oldCancelled
	}
	var with ids
	if source != nil {
		with = ids{billTo: source.BillToCustomerAddressID, shipTo: source.ShipToCustomerAddressID,
			card: source.CustomerCreditCardID, pickup: source.PickupInventoryLocationID}
	}
	if with.billTo == "" {
		// No old membership to copy from (it was removed in Commerce7 by hand): start
		// from the customer's default address, as an add would.
		addr, err := p.defaultAddress(ctx, m.Customer)
		if err != nil {
			return "", err
		}
		with.billTo = addr
		if with.shipTo == "" {
			with.shipTo = addr
		}
	}
	return p.create(ctx, m, with)
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
func (p *Provider) EnsureCustomer(ctx context.Context, c crm.Customer) (string, error) {
	return checkedID(p.ensureCustomer(ctx, c))("ensure customer")
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
