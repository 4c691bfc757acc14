// Package crm is what tiersync needs from a winery's CRM, whatever the CRM: the Provider
// interface (one implementation per crm_type: commerce7/, shopify/), the data it speaks,
// and the three error classes that decide what becomes of a queue row.
//
// Every Provider operation is idempotent: it reads the CRM's state before it changes
// anything, so running it again — after a crash between the CRM's answer and our commit,
// after a lost answer, after a retry — leaves the CRM as one run would have.
package crm

import (
	"context"
	"time"
)

// Provider changes one client's (winery's) CRM.
type Provider interface {
	// EnsureCustomer finds the customer in the CRM (by CRMID when known, else by exact
	// email) or creates it, and returns its CRM id; created says this call made it.
	EnsureCustomer(ctx context.Context, c Customer) (crmID string, created bool, err error)
	// AddMembership gives the customer the tier and returns the CRM's membership id ("" when
	// the CRM has no such thing, as Shopify). A membership already there is returned as is.
	AddMembership(ctx context.Context, m MembershipChange) (membershipID string, err error)
	// CancelMembership takes the tier away. Nothing to cancel is success.
	CancelMembership(ctx context.Context, m MembershipChange, reason string) error
	// UpgradeMembership moves the customer from m.OldTier to m.Tier and returns the new
	// membership id.
	UpgradeMembership(ctx context.Context, m MembershipChange) (membershipID string, err error)
}

// Customer is a customer as tiersync knows it.
type Customer struct {
	CRMID     string // "" when the CRM id is not known yet
	Email     string
	FirstName string
	LastName  string
	Phone     string
	Address   *Address // the one the enrollment brought, if any
	// Created says the CRM customer was created by the EnsureCustomer call just before
	// this change, in the same sync: it has no memberships, addresses nor cards yet, so a
	// provider need not list them. Only the syncer sets it, from EnsureCustomer's answer;
	// a retry finds the customer's id stored and the flag false, so it reads everything.
	Created bool
}

// Address is a postal address as the enrollment API takes it.
type Address struct {
	Address     string `json:"address"`
	Address2    string `json:"address2"`
	City        string `json:"city"`
	StateCode   string `json:"state_code"`
	ZipCode     string `json:"zip_code"`
	CountryCode string `json:"country_code"`
}

// Tier is a tier's CRM mapping.
type Tier struct {
	ID   string
	Name string
	// Commerce7: each tier is its own club.
	C7ClubID         string
	C7DeliveryMethod string // "Ship" | "Pickup"
	PickupLocationID string // Pickup tiers: where the member picks up (Commerce7 pickupInventoryLocationId)
	// Shopify: a customer tag.
	ShopifyTag string
}

// MembershipChange is what an add, a cancel or an upgrade is about.
type MembershipChange struct {
	Customer Customer // CRMID set (EnsureCustomer ran first)
	Tier     Tier     // the tier to add, cancel or upgrade to
	OldTier  *Tier    // upgrades: the tier left
	// MembershipID is the CRM membership id we stored, if any: a hint only, the CRM's own
	// state decides.
	MembershipID string
	EnrolledAt   time.Time
	ExpiresAt    time.Time
}

// Cancellation reasons sent to the CRM.
const (
	ReasonExpired   = "Other" // Commerce7 has no "expired" reason; the note says why
	ReasonSwitching = "Switching to another club"
)

// Limiter hands out the client's shared request budget: a CRM client takes one token
// before every HTTP request (rate limits count requests, not rows). The queue's Limiter
// implements it.
type Limiter interface {
	Take(ctx context.Context, clientID string) error
}

// NoLimit is a Limiter that never waits (tools and tests that own the CRM).
type NoLimit struct{}

// Take never waits.
func (NoLimit) Take(context.Context, string) error { return nil }
