package c7test

import (
	"fmt"
	"strings"
	"time"
)

// Club memberships, as Commerce7's API serves them.

func listMemberships(t *tenantState, customerID, p string) answer {
	if customerID == "" {
		return invalid(fieldError{"customerId", "customerId is required"})
	}
	all := append([]*Membership(nil), t.membershipsOf[customerID]...)
	sortByCreation(all)
	out := []map[string]any{}
	for _, m := range paged(all, page(p)) {
		out = append(out, membershipOut(*m))
	}
	return answer{status: 200, body: map[string]any{"clubMemberships": out, "total": len(all)}}
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
	if in.OrderDeliveryMethod == "Ship" && in.ShipToCustomerAddressID == "" {
		errs = append(errs, fieldError{"shipToCustomerAddressId", "shipToCustomerAddressId is required when orderDeliveryMethod is Ship"})
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
}

// updateMembership validates the whole update before changing anything, so a refused
// update (422) leaves the membership as it was, as a real API's would.
func (f *Fake) updateMembership(m *Membership, in membershipUpdate) answer {
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
	}
	if in.OrderDeliveryMethod != "" {
		m.OrderDeliveryMethod = in.OrderDeliveryMethod
	}
	m.UpdatedAt = f.opts.Now().UTC()
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
