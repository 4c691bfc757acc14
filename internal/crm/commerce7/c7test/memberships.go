package c7test

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Club memberships, as Commerce7's API serves them.

// AddMembership seeds a membership. An Active one with a CancelDate is scheduled to end:
// it turns Cancelled once that day is over (by Options.Now).
func (f *Fake) AddMembership(tenant string, m Membership) Membership {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.seedTenant("AddMembership", tenant)
	now := f.opts.Now().UTC()
	if m.ID == "" {
		m.ID = newID()
	}
	if m.Status == "" {
		m.Status = "Active"
	}
	if m.SignupDate.IsZero() {
		m.SignupDate = now
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = now
	}
	if m.UpdatedAt.IsZero() {
		m.UpdatedAt = m.CreatedAt
	}
	t.addMembership(&m)
	t.settle(now)
	return m
}

// Memberships returns the customer's memberships (all of the tenant's when customerID is
// ""), oldest first, as they stand at Options.Now.
func (f *Fake) Memberships(tenant, customerID string) []Membership {
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []*Membership
	if t := f.tenants[tenant]; t != nil {
		t.settle(f.opts.Now())
		for _, m := range t.memberships {
			if customerID == "" || m.CustomerID == customerID {
				all = append(all, m)
			}
		}
	}
	sortByCreation(all)
	var out []Membership
	for _, m := range all {
		out = append(out, *m)
	}
	return out
}

// endOfDay is when a cancellation dated d takes effect. Commerce7's help: a membership
// with a future cancel date "will remain as active until 11:59 pm on the set Cancel
// Date" (documentation.commerce7.com/how-to-add-remove-a-cancellation-on-a-club-membership).
// The tenant's time zone is not known to the fake: it uses UTC.
func endOfDay(d time.Time) time.Time {
	y, m, day := d.UTC().Date()
	return time.Date(y, m, day, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 1)
}

// schedule records m as ending later if it is Active with a cancel date; t's lock held.
func (t *tenantState) schedule(m *Membership) {
	if m.Status == "Active" && m.CancelDate != nil {
		t.scheduled[m.ID] = m
		return
	}
	delete(t.scheduled, m.ID)
}

// settle ends the scheduled memberships whose cancel date is over; t's lock held. It runs
// before every request and every read of the state, so the clock alone moves them.
func (t *tenantState) settle(now time.Time) {
	for id, m := range t.scheduled {
		if end := endOfDay(*m.CancelDate); !now.Before(end) {
			m.Status, m.UpdatedAt = "Cancelled", end
			delete(t.scheduled, id)
		}
	}
}

// listMemberships answers GET /club-membership with the customerId and clubId filters,
// each honoured unless its switch says the API ignores it. A listing with neither filter
// is refused, though Commerce7 itself is not known to refuse it: tiersync never means to
// list a whole tenant, so a request without a filter is a bug the fake should show.
func (f *Fake) listMemberships(t *tenantState, customerID, clubID, p string) answer {
	if customerID == "" && clubID == "" {
		return invalid(fieldError{"customerId", "customerId or clubId is required"})
	}
	var all []*Membership
	if customerID != "" && !f.opts.IgnoreCustomerFilter {
		all = append(all, t.membershipsOf[customerID]...)
	} else {
		all = append(all, t.memberships...)
	}
	if clubID != "" && !f.opts.IgnoreClubFilter {
		in := all[:0]
		for _, m := range all {
			if m.ClubID == clubID {
				in = append(in, m)
			}
		}
		all = in
	}
	sortByCreation(all)
	out := []map[string]any{}
	for _, m := range paged(all, page(p)) {
		out = append(out, membershipOut(*m))
	}
	return answer{status: 200, body: map[string]any{"clubMemberships": out, "total": len(all)}}
}

// Drift: what a merchant does in Commerce7's admin behind tiersync's back. These change
// the state directly, as the seeds do: no request is logged and no rate-limit token is
// spent, so a test's request counts are tiersync's alone. An unknown tenant or membership
// is a mistake in the test itself, and panics with a message naming it.

// CancelMembership cancels membership id now (status Cancelled, cancel date now), as
// Cancel Membership in the admin does.
func (f *Fake) CancelMembership(tenant, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.seedMembership("CancelMembership", tenant, id)
	now := f.opts.Now().UTC()
	m.Status, m.CancelDate, m.CancellationReason, m.UpdatedAt = "Cancelled", &now, "Other", now
	f.tenants[tenant].schedule(m) // no longer scheduled to end: it has ended
}

// DeleteMembership removes membership id from the tenant, as if it had never been made.
func (f *Fake) DeleteMembership(tenant, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.seedMembership("DeleteMembership", tenant, id)
	t := f.tenants[tenant]
	t.memberships = without(t.memberships, m)
	t.membershipsOf[m.CustomerID] = without(t.membershipsOf[m.CustomerID], m)
	delete(t.membershipByID, id)
	delete(t.scheduled, id)
}

// SetMembershipClub moves membership id to club clubID, keeping its status and dates.
// Commerce7's admin has no such button (a move is a cancel and a new membership); the
// helper stands for any way a membership ends up in a club tiersync did not put it in.
func (f *Fake) SetMembershipClub(tenant, id, clubID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.seedMembership("SetMembershipClub", tenant, id)
	m.ClubID, m.UpdatedAt = clubID, f.opts.Now().UTC()
}

// seedMembership returns the tenant's membership id for the drift helpers; f.mu held.
func (f *Fake) seedMembership(op, tenant, id string) *Membership {
	t := f.seedTenant(op, tenant)
	t.settle(f.opts.Now())
	m := t.membership(id)
	if m == nil {
		panic(fmt.Sprintf("c7test: %s: tenant %q has no membership %q", op, tenant, id))
	}
	return m
}

// without returns ms without m, keeping the order (the listing's order is creation order,
// and ties keep insertion order).
func without(ms []*Membership, m *Membership) []*Membership {
	out := ms[:0]
	for _, x := range ms {
		if x != m {
			out = append(out, x)
		}
	}
	return out
}

type membershipIn struct {
	CustomerID                string `json:"customerId"`
	ClubID                    string `json:"clubId"`
	OrderDeliveryMethod       string `json:"orderDeliveryMethod"`
	SignupDate                string `json:"signupDate"`
	BillToCustomerAddressID   string `json:"billToCustomerAddressId"`
	ShipToCustomerAddressID   string `json:"shipToCustomerAddressId"`
	CustomerCreditCardID      string `json:"customerCreditCardId"`
	PickupInventoryLocationID string `json:"pickupInventoryLocationId"`
}

func (f *Fake) createMembership(t *tenantState, in membershipIn) answer {
	var errs []fieldError
	need := func(field, v string) {
		if strings.TrimSpace(v) == "" {
			errs = append(errs, fieldError{field, field + " is required"})
		}
	}
	need("customerId", in.CustomerID)
	need("clubId", in.ClubID)
	need("orderDeliveryMethod", in.OrderDeliveryMethod)
	if len(errs) > 0 {
		return invalid(errs...)
	}
	if in.OrderDeliveryMethod != "Ship" && in.OrderDeliveryMethod != "Pickup" {
		return invalid(fieldError{"orderDeliveryMethod", "orderDeliveryMethod must be Ship or Pickup"})
	}
	if t.customer(in.CustomerID) == nil {
		return invalid(fieldError{"customerId", "Customer not found"})
	}
	if len(t.clubs) > 0 && !t.clubs[in.ClubID] {
		return invalid(fieldError{"clubId", "Club not found"})
	}
	for _, a := range []struct{ field, id string }{{"billToCustomerAddressId", in.BillToCustomerAddressID}, {"shipToCustomerAddressId", in.ShipToCustomerAddressID}} {
		if a.id == "" {
			continue
		}
		owned := false
		for _, x := range t.addressesOf[in.CustomerID] {
			owned = owned || x.ID == a.id
		}
		if !owned {
			errs = append(errs, fieldError{a.field, "Address not found for this customer"})
		}
	}
	errs = append(errs, f.checkCard(t, in)...)
	if in.OrderDeliveryMethod == "Ship" && in.ShipToCustomerAddressID == "" {
		errs = append(errs, fieldError{"shipToCustomerAddressId", "shipToCustomerAddressId is required when orderDeliveryMethod is Ship"})
	}
	// Reported of the real API (docs/crm-assumptions.md): a Pickup membership names where.
	if in.OrderDeliveryMethod == "Pickup" && in.PickupInventoryLocationID == "" {
		errs = append(errs, fieldError{"pickupInventoryLocationId", "pickupInventoryLocationId is required when orderDeliveryMethod is Pickup"})
	}
	signup, err := parseDate(in.SignupDate)
	if err != nil {
		errs = append(errs, fieldError{"signupDate", err.Error()})
	}
	if len(errs) > 0 {
		return invalid(errs...)
	}
	for _, m := range t.membershipsOf[in.CustomerID] {
		if m.ClubID == in.ClubID && (m.Status == "Active" || m.Status == "On Hold") {
			return invalid(fieldError{"clubId", "Customer already has an active membership in this club"})
		}
	}
	now := f.opts.Now().UTC()
	m := &Membership{ID: newID(), CustomerID: in.CustomerID, ClubID: in.ClubID, Status: "Active",
		OrderDeliveryMethod: in.OrderDeliveryMethod, BillToCustomerAddressID: in.BillToCustomerAddressID,
		ShipToCustomerAddressID: in.ShipToCustomerAddressID, CustomerCreditCardID: in.CustomerCreditCardID,
		PickupInventoryLocationID: in.PickupInventoryLocationID, SignupDate: now, CreatedAt: now, UpdatedAt: now}
	if !signup.IsZero() {
		m.SignupDate = signup
	}
	t.addMembership(m)
	return answer{status: 201, body: membershipOut(*m)}
}

type membershipUpdate struct {
	CancelDate          *string `json:"cancelDate"`
	CancellationReason  string  `json:"cancellationReason"`
	OrderDeliveryMethod string  `json:"orderDeliveryMethod"`
	// clearCancel: the body's cancelDate is an explicit null (a request to remove a
	// scheduled cancellation), which the pointer alone cannot tell from no cancelDate.
	clearCancel bool
}

// decodeUpdate reads a membership update, telling "cancelDate": null from no cancelDate.
func decodeUpdate(body []byte, then func(membershipUpdate) answer) answer {
	return decodeThen(body, func(in membershipUpdate) answer {
		var fields map[string]json.RawMessage
		if json.Unmarshal(body, &fields) == nil {
			if v, ok := fields["cancelDate"]; ok && string(v) == "null" {
				in.clearCancel = true
			}
		}
		return then(in)
	})
}

// updateMembership validates the whole update before changing anything, so a refused
// update (422) leaves the membership as it was, as a real API's would. A cancel date
// after today schedules the end (the membership stays Active until that day is over); one
// of today or earlier cancels at once, as Commerce7's admin cancels.
func (f *Fake) updateMembership(t *tenantState, m *Membership, in membershipUpdate) answer {
	now := f.opts.Now().UTC()
	if in.clearCancel {
		return f.clearCancellation(t, m, now)
	}
	var cancel time.Time
	if in.CancelDate != nil {
		d, err := parseDate(*in.CancelDate)
		if err != nil {
			return invalid(fieldError{"cancelDate", err.Error()})
		}
		cancel = d
	}
	if !cancel.IsZero() {
		if strings.TrimSpace(in.CancellationReason) == "" {
			return invalid(fieldError{"cancellationReason", "cancellationReason is required when cancelDate is given"})
		}
		if m.Status == "Cancelled" {
			return invalid(fieldError{Message: "Club membership is already cancelled"})
		}
	}
	if in.OrderDeliveryMethod != "" && in.OrderDeliveryMethod != "Ship" && in.OrderDeliveryMethod != "Pickup" {
		return invalid(fieldError{"orderDeliveryMethod", "orderDeliveryMethod must be Ship or Pickup"})
	}
	if !cancel.IsZero() {
		m.CancelDate, m.CancellationReason, m.Status = &cancel, in.CancellationReason, "Cancelled"
		if endOfDay(cancel).After(endOfDay(now)) {
			m.Status = "Active"
		}
		t.schedule(m)
	}
	if in.OrderDeliveryMethod != "" {
		m.OrderDeliveryMethod = in.OrderDeliveryMethod
	}
	m.UpdatedAt = now
	return answer{status: 200, body: membershipOut(*m)}
}

// clearCancellation answers "cancelDate": null as Options.CancelDateClear says.
func (f *Fake) clearCancellation(t *tenantState, m *Membership, now time.Time) answer {
	if m.Status == "Cancelled" {
		return invalid(fieldError{Message: "Club membership is already cancelled"})
	}
	switch f.opts.CancelDateClear {
	case ClearRefused:
		return invalid(fieldError{"cancelDate", "cancelDate cannot be removed"})
	case ClearIgnored:
		return answer{status: 200, body: membershipOut(*m)}
	}
	m.CancelDate, m.CancellationReason, m.UpdatedAt = nil, "", now
	t.schedule(m)
	return answer{status: 200, body: membershipOut(*m)}
}

// parseDate reads a date as Commerce7 takes it: an RFC 3339 timestamp or a bare
// YYYY-MM-DD. "" is no date (the zero time). A bad date is the caller's mistake, answered
// 422 rather than the 400 of malformed JSON, which is why dates are decoded as strings.
func parseDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp or a YYYY-MM-DD date", s)
	}
	return t, nil
}

// nullable is an optional string as Commerce7 shows it: null when absent, not "".
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// membershipOut is a membership as the API shows it. The Membership struct's own JSON
// (the control API's) omits empty fields; the API instead shows every field, with null
// for the absent ones, and clients decoding it rely on that shape.
func membershipOut(m Membership) map[string]any {
	return map[string]any{
		"id": m.ID, "customerId": m.CustomerID, "clubId": m.ClubID, "status": m.Status,
		"orderDeliveryMethod":       m.OrderDeliveryMethod,
		"signupDate":                m.SignupDate,
		"cancelDate":                m.CancelDate,
		"cancellationReason":        nullable(m.CancellationReason),
		"billToCustomerAddressId":   nullable(m.BillToCustomerAddressID),
		"shipToCustomerAddressId":   nullable(m.ShipToCustomerAddressID),
		"customerCreditCardId":      nullable(m.CustomerCreditCardID),
		"pickupInventoryLocationId": nullable(m.PickupInventoryLocationID),
		"createdAt":                 m.CreatedAt, "updatedAt": m.UpdatedAt,
	}
}
