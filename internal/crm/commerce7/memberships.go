package commerce7

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"tiersync/internal/crm"
)

// Club memberships: list, create, cancel, and keep one scheduled to end. Two rules hold
// everywhere here (docs/crm-assumptions.md):
//
//   - Only the customer's own memberships are read or acted on. Whether Commerce7 honours
//     GET /club-membership?customerId= is not confirmed, so memberships lists through the
//     filter and then keeps those whose customerId is the customer's: another customer's
//     membership is never returned, cancelled, nor copied from.
//   - An Active membership with a cancelDate ends on that date (Commerce7's help: it stays
//     "active" until 11:59 pm on the Cancel Date, then shows "cancelled").

// memberships lists every membership of the customer (all clubs, all statuses), and only
// theirs: whatever else the listing holds is dropped.
func (p *Provider) memberships(ctx context.Context, customerID string) ([]membership, error) {
	var ours []membership
	listed := 0
	for page := 1; page <= maxPages; page++ {
		var res struct {
			ClubMemberships []membership `json:"clubMemberships"`
			Total           int          `json:"total"`
		}
		q := url.Values{"customerId": {customerID}, "page": {strconv.Itoa(page)}}
		if err := p.do(ctx, "list club memberships", http.MethodGet, "/club-membership", q, nil, &res); err != nil {
			return nil, err
		}
		for _, m := range res.ClubMemberships {
			if m.CustomerID == customerID {
				ours = append(ours, m)
			}
		}
		listed += len(res.ClubMemberships)
		if len(res.ClubMemberships) < pageSize || listed >= res.Total {
			return ours, nil
		}
	}
	// A listing that does not end may hide the customer's membership: acting on part of it
	// could create a second membership or leave one uncancelled. An API ignoring the
	// customerId filter lists the whole tenant, which is how this happens.
	return nil, &crm.Error{Class: crm.Permanent, CRM: "commerce7", Op: "list club memberships",
		Message: fmt.Sprintf("the listing for customer %s did not end after %d pages (%d memberships, %d of them the customer's): "+
			"Commerce7 may be ignoring the customerId filter", customerID, maxPages, listed, len(ours))}
}

// inClub returns the customer's live membership in club, and the newest cancelled one
// (the one an interrupted upgrade left behind). ms holds the customer's memberships only.
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
	// The tier names its pickup location; an old membership's is the fallback (a tier made
	// before tiers carried one).
	pickup := m.Tier.PickupLocationID
	if pickup == "" {
		pickup = with.pickup
	}
	if pickup != "" && delivery == "Pickup" {
		body["pickupInventoryLocationId"] = pickup
	}
	var created membership
	if err := p.do(ctx, "create club membership", http.MethodPost, "/club-membership", nil, body, &created); err != nil {
		if with.card == "" {
			return "", noCard(err)
		}
		return "", err
	}
	if created.CustomerID != "" && created.CustomerID != m.Customer.CRMID {
		return "", &crm.Error{Class: crm.Permanent, CRM: "commerce7", Op: "create club membership",
			Message: fmt.Sprintf("Commerce7 answered membership %s of customer %s, not of %s: not stored", created.ID, created.CustomerID, m.Customer.CRMID)}
	}
	return created.ID, nil
}

// cancel ends membership id now. A membership already scheduled to end later is ended now
// as well: the enrollment it stood for is over today, and a later date would leave the
// member in the club beyond it. The PUT overwrites the scheduled date.
func (p *Provider) cancel(ctx context.Context, id, reason string) error {
	body := map[string]any{
		"cancelDate":         p.c.cfg.Now().UTC().Format(time.RFC3339),
		"cancellationReason": reason,
	}
	return p.do(ctx, "cancel club membership", http.MethodPut, "/club-membership/"+url.PathEscape(id), nil, body, nil)
}

// endsTooSoon says whether live is scheduled to end before the enrollment m does (an
// enrollment without an expiry outlasts any date).
func endsTooSoon(live *membership, m crm.MembershipChange) bool {
	return live.CancelDate != nil && (m.ExpiresAt.IsZero() || live.CancelDate.Before(m.ExpiresAt))
}

// keep makes a membership scheduled to end before the enrollment an ongoing one again, by
// removing its cancel date (PUT "cancelDate": null). Commerce7's admin can "Remove
// Cancellation" (documentation.commerce7.com/how-to-add-remove-a-cancellation-on-a-club-membership);
// that its API does so for a null is not confirmed, so the answer is read back: a cancel
// date still there is a permanent failure that tells the operator what to do. A second
// membership in the club is not the way out (Commerce7 allows one live membership per
// club), nor is waiting for the date (months, with the tier lapsed meanwhile).
func (p *Provider) keep(ctx context.Context, live *membership, m crm.MembershipChange) (string, error) {
	fail := func(what string) error {
		return &crm.Error{Class: crm.Permanent, CRM: "commerce7", Op: "remove scheduled cancellation",
			Message: fmt.Sprintf("membership %s in club %s is scheduled to end on %s, before this enrollment; %s: "+
				"remove the cancellation in Commerce7 (Cancel Membership, then Remove Cancellation), then retry the queue row",
				live.ID, live.ClubID, live.CancelDate.UTC().Format(time.DateOnly), what)}
	}
	path := "/club-membership/" + url.PathEscape(live.ID)
	var after membership
	body := map[string]any{"cancelDate": nil, "cancellationReason": nil}
	if err := p.do(ctx, "remove scheduled cancellation", http.MethodPut, path, nil, body, &after); err != nil {
		if crm.ClassOf(err) == crm.Permanent {
			return "", fail("Commerce7 refused to remove it (" + err.Error() + ")")
		}
		return "", err
	}
	if after.ID == "" { // an answer without the membership: read it
		if err := p.do(ctx, "read club membership", http.MethodGet, path, nil, nil, &after); err != nil {
			return "", err
		}
	}
	switch {
	case after.CustomerID != "" && after.CustomerID != m.Customer.CRMID:
		return "", &crm.Error{Class: crm.Permanent, CRM: "commerce7", Op: "remove scheduled cancellation",
			Message: fmt.Sprintf("Commerce7 answered membership %s of customer %q, not of %s", after.ID, after.CustomerID, m.Customer.CRMID)}
	case !after.live():
		return "", fail("it is " + after.Status + " now")
	case after.CancelDate != nil:
		return "", fail("Commerce7 kept the cancel date")
	}
	return live.ID, nil
}

// addMembership makes the customer a member of the tier's club, unless they already are
// (Active or On Hold): then that membership is the answer — kept going first if it is
// scheduled to end before the enrollment.
func (p *Provider) addMembership(ctx context.Context, m crm.MembershipChange) (string, error) {
	if err := checkTier(m.Tier); err != nil {
		return "", err
	}
	if m.Customer.Created {
		// Created by this sync a moment ago: nothing on file to list (no membership, no
		// address, no card), so a new customer's add is three requests (search, create,
		// create membership), or four with an address, instead of seven.
		addr, err := p.createAddress(ctx, m.Customer)
		if err != nil {
			return "", err
		}
		return p.create(ctx, m, ids{billTo: addr, shipTo: addr})
	}
	ms, err := p.memberships(ctx, m.Customer.CRMID)
	if err != nil {
		return "", err
	}
	if live, _ := inClub(ms, m.Tier.C7ClubID); live != nil {
		if endsTooSoon(live, m) {
			return p.keep(ctx, live, m)
		}
		return live.ID, nil
	}
	addr, err := p.defaultAddress(ctx, m.Customer)
	if err != nil {
		return "", err
	}
	card, err := p.defaultCard(ctx, m.Customer.CRMID)
	if err != nil {
		return "", err
	}
	return p.create(ctx, m, ids{billTo: addr, shipTo: addr, card: card})
}

// CancelMembership cancels every live membership of the customer in the tier's club (one,
// normally), ending now even one scheduled to end later; other clubs and other customers'
// memberships are never touched. None left is success.
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
// after a crash between the two, the ids are read from the cancelled old membership (the
// customer's own: memberships keeps no other); when the new membership exists already, it
// is the answer, kept going if it is scheduled to end too soon.
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
		if endsTooSoon(newLive, m) {
			return p.keep(ctx, newLive, m)
		}
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
	if with.card == "" {
		card, err := p.defaultCard(ctx, m.Customer.CRMID)
		if err != nil {
			return "", err
		}
		with.card = card
	}
	return p.create(ctx, m, with)
}
