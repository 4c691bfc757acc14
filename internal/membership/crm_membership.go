package membership

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/apperr"
	"tiersync/internal/db"
)

// Changes made in the CRM flow back: a club membership the winery creates or cancels in
// Commerce7 (a Club Membership webhook) makes or ends our enrollment. The CRM already has
// the change, so none of this queues a CRM call.

// causeCRM marks what the CRM did: enrollments.source and enrollment_events.cause.
const causeCRM = "crm"

// What a CRM membership change did.
const (
	CRMEnrolled  = "enrolled"
	CRMCancelled = "cancelled"
)

// CRMMembership is a club membership as a CRM's webhook tells it (commerce7 parses it).
type CRMMembership struct {
	ID            string
	CustomerCRMID string // "" when the payload has none (a deleted membership)
	ClubID        string // "" when the payload has none
	// Cancelled: the membership has ended at the CRM (deleted, status Cancelled, or a
	// cancel date that has passed).
	Cancelled  bool
	SignupDate *time.Time // nil: now
	// The customer's email and names, when the payload carries them.
	Email, FirstName, LastName string
}

// MembershipEvent is one club membership webhook, already authenticated and parsed.
type MembershipEvent struct {
	ClientID   string
	ExternalID string // the dedupe key
	Topic      string
	Payload    []byte // the raw body, kept in webhook_events
	Membership CRMMembership
	// lookedUp: the customer's email was read from the CRM, which had none; a customer
	// we can't create is then ignored rather than asked for again.
	lookedUp bool
}

// MembershipResult is what ApplyCRMMembership did.
type MembershipResult struct {
	Status       string // accepted, duplicate, ignored
	Action       string // enrolled, cancelled, none
	EnrollmentID string
}

// validate refuses, with a 400 and before anything is written, what no CRM sends.
func (ev *MembershipEvent) validate() error {
	m := &ev.Membership
	if m.ID == "" {
		return apperr.BadRequestf("membership id is required")
	}
	for _, f := range []struct{ name, v string }{{"membership id", m.ID}, {"membership customer id", m.CustomerCRMID}, {"membership club id", m.ClubID}} {
		if f.v == "" {
			continue
		}
		if err := CheckCRMID(f.name, f.v); err != nil {
			return err
		}
	}
	if m.Email != "" {
		var err error
		if m.Email, err = CheckEmail("membership customer email", m.Email); err != nil {
			return err
		}
	}
	m.FirstName, m.LastName = cleanName(m.FirstName), cleanName(m.LastName)
	for _, f := range []struct {
		name, v string
		max     int
	}{{"event id", ev.ExternalID, maxExternalIDBytes}, {"topic", ev.Topic, maxTopicBytes}} {
		if len(f.v) > f.max {
			return apperr.BadRequestf("%s is longer than %d bytes", f.name, f.max)
		}
		if err := checkText(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	if strings.TrimSpace(ev.ExternalID) == "" {
		return apperr.BadRequestf("event id is required")
	}
	return nil
}

// ApplyCRMMembership records a club membership webhook once and applies it, in ONE
// transaction, writing no queue row (the CRM already has the change):
//
//   - a membership of ours (enrollments.crm_membership_id, within the client) that has
//     ended at the CRM cancels our active enrollment, with an enrollment_events line of
//     cause 'crm', and clears the customer's flags where it was their current tier;
//   - a live membership we don't know, in a club mapped to one of the client's tiers
//     (tiers.c7_club_id), for a customer (by CRM id, else by the payload's email) with no
//     active enrollment, becomes an enrollment of source 'crm' from its signup date,
//     for the tier's duration;
//   - anything else (a club we don't map, a customer already enrolled, a membership of
//     ours still live, one already ended here, a signup so old the membership would
//     already be over) is ignored: only the event row is written.
//
// A second delivery of the same event is a duplicate. ErrNeedCustomer: the membership
// names a customer we don't know and carries no email (see ApplyCRMMembershipWithLookup).
func (s *Store) ApplyCRMMembership(ctx context.Context, ev MembershipEvent) (MembershipResult, error) {
	if err := ev.validate(); err != nil {
		return MembershipResult{}, err
	}
	var res MembershipResult
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		res = MembershipResult{Status: WebhookAccepted, Action: OrderNothing}
		var eventID int64
		err := tx.QueryRow(ctx, sqlWebhookEventInsert, pgx.StrictNamedArgs{
			"client_id": ev.ClientID, "provider": CRMCommerce7, "external_id": ev.ExternalID, "topic": ev.Topic,
			"payload": ev.Payload, "outcome": WebhookAccepted, "order_version": nil,
		}).Scan(&eventID)
		if errors.Is(err, pgx.ErrNoRows) {
			res.Status = WebhookDuplicate
			return nil
		}
		if err != nil {
			return fmt.Errorf("membership webhook: record: %w", err)
		}
		why, err := s.applyCRMMembership(ctx, tx, ev, &res)
		if err != nil || res.Action != OrderNothing {
			return err
		}
		res.Status = WebhookIgnored
		return setOutcome(ctx, tx, eventID, WebhookIgnored, why)
	})
	if err != nil {
		return MembershipResult{}, err
	}
	return res, nil
}

// applyCRMMembership makes the change; leaving res.Action "none" means ignored, and why
// (when not "") is worth an operator's look.
func (s *Store) applyCRMMembership(ctx context.Context, tx pgx.Tx, ev MembershipEvent, res *MembershipResult) (why string, err error) {
	m := ev.Membership
	var cur struct {
		id, status, customerID, tierID string
		expiresAt                      time.Time
	}
	err = tx.QueryRow(ctx, sqlEnrollmentByCRMMembership, pgx.StrictNamedArgs{"client_id": ev.ClientID, "crm_membership_id": m.ID}).
		Scan(&cur.id, &cur.status, &cur.customerID, &cur.tierID, &cur.expiresAt)
	switch {
	case err == nil:
		if !m.Cancelled || cur.status != EnrollmentActive {
			return "", nil // still live at the CRM, or already ended here
		}
		return "", cancelFromCRM(ctx, tx, cur.id, cur.customerID, cur.tierID, cur.expiresAt, res)
	case !errors.Is(err, pgx.ErrNoRows):
		return "", fmt.Errorf("membership webhook: enrollment of membership %s: %w", m.ID, err)
	case m.Cancelled:
		return "", nil // not ours, and over anyway
	}

	var tierID string
	var duration int
	err = tx.QueryRow(ctx, sqlTierByC7Club, pgx.StrictNamedArgs{"client_id": ev.ClientID, "c7_club_id": m.ClubID}).Scan(&tierID, &duration)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil // a club we don't map: the winery's own business
	}
	if err != nil {
		return "", fmt.Errorf("membership webhook: tier of club %s: %w", m.ClubID, err)
	}
	customerID, why, err := s.crmMembershipCustomer(ctx, tx, ev)
	if err != nil || customerID == "" {
		return why, err
	}
	var active string
	err = tx.QueryRow(ctx, sqlEnrollmentActiveID, pgx.StrictNamedArgs{"customer_id": customerID}).Scan(&active)
	if err == nil {
		// One active enrollment per customer: a second club at the CRM, or our own
		// membership whose id we have not recorded yet, changes nothing here.
		return "", nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("membership webhook: active enrollment: %w", err)
	}
	var e Enrollment
	err = tx.QueryRow(ctx, sqlEnrollmentInsertFromCRM, pgx.StrictNamedArgs{
		"client_id": ev.ClientID, "customer_id": customerID, "tier_id": tierID, "duration_months": duration,
		"signup_date": m.SignupDate, "crm_membership_id": m.ID,
	}).Scan(&e.ID, &e.Status, &e.ClientID, &e.TierID, &e.CustomerID, &e.EnrolledAt, &e.ExpiresAt, &e.CRMMembershipID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "the membership's signup date plus the tier's duration is already past", nil
	}
	if err != nil {
		return "", fmt.Errorf("membership webhook: enrollment: %w", err)
	}
	if _, err := tx.Exec(ctx, sqlEnrollmentEventInsert, pgx.StrictNamedArgs{
		"enrollment_id": e.ID, "event": eventEnrolled, "old_tier_id": nil, "new_tier_id": tierID,
		"old_expires_at": nil, "new_expires_at": e.ExpiresAt, "cause": causeCRM, "order_id": nil,
	}); err != nil {
		return "", fmt.Errorf("membership webhook: event: %w", err)
	}
	if _, err := tx.Exec(ctx, sqlCustomerSetMember, pgx.StrictNamedArgs{"id": customerID, "tier_id": tierID}); err != nil {
		return "", fmt.Errorf("membership webhook: customer flags: %w", err)
	}
	res.Action, res.EnrollmentID = CRMEnrolled, e.ID
	return "", nil
}

// cancelFromCRM ends our active enrollment because its membership ended at the CRM.
func cancelFromCRM(ctx context.Context, tx pgx.Tx, id, customerID, tierID string, expiresAt time.Time, res *MembershipResult) error {
	if _, err := tx.Exec(ctx, sqlEnrollmentEnd, pgx.StrictNamedArgs{"id": id, "status": EnrollmentCancelled}); err != nil {
		return fmt.Errorf("membership webhook: cancel enrollment: %w", err)
	}
	if _, err := tx.Exec(ctx, sqlEnrollmentEventInsert, pgx.StrictNamedArgs{
		"enrollment_id": id, "event": EnrollmentCancelled, "old_tier_id": tierID, "new_tier_id": nil,
		"old_expires_at": expiresAt, "new_expires_at": nil, "cause": causeCRM, "order_id": nil,
	}); err != nil {
		return fmt.Errorf("membership webhook: cancel event: %w", err)
	}
	if _, err := tx.Exec(ctx, sqlCustomerClearMember, pgx.StrictNamedArgs{"id": customerID, "tier_id": tierID}); err != nil {
		return fmt.Errorf("membership webhook: customer flags: %w", err)
	}
	res.Action, res.EnrollmentID = CRMCancelled, id
	return nil
}

// crmMembershipCustomer finds and locks the membership's customer by CRM id, else finds or
// creates it by the payload's email (recording the CRM id). "" with a reason: a customer
// linked to another CRM customer, or one the CRM has no email for.
func (s *Store) crmMembershipCustomer(ctx context.Context, tx pgx.Tx, ev MembershipEvent) (id, why string, err error) {
	m := ev.Membership
	if m.CustomerCRMID == "" {
		return "", "the membership names no customer", nil
	}
	id, found, err := knownCustomer(ctx, tx, ev.ClientID, m.CustomerCRMID, "")
	if err != nil || found {
		return id, "", err
	}
	if m.Email == "" {
		if ev.lookedUp {
			return "", "the CRM's customer " + m.CustomerCRMID + " has no email", nil
		}
		return "", "", ErrNeedCustomer
	}
	err = tx.QueryRow(ctx, sqlCustomerUpsertFromOrder, pgx.StrictNamedArgs{
		"client_id": ev.ClientID, "email": m.Email, "first_name": m.FirstName, "last_name": m.LastName, "crm_id": m.CustomerCRMID,
	}).Scan(&id)
	if err != nil {
		return "", "", fmt.Errorf("membership webhook: customer: %w", err)
	}
	var crmID *string
	if err := tx.QueryRow(ctx, sqlCustomerCRMID, pgx.StrictNamedArgs{"id": id}).Scan(&crmID); err != nil {
		return "", "", fmt.Errorf("membership webhook: customer crm id: %w", err)
	}
	if crmID == nil || *crmID != m.CustomerCRMID {
		// Our customer of that email is another CRM customer: trust neither.
		return "", fmt.Sprintf("customer %s is linked to another CRM customer than %s", m.Email, m.CustomerCRMID), nil
	}
	return id, "", nil
}

// ApplyCRMMembershipWithLookup applies ev as ApplyCRMMembership does; when the membership
// names a customer we don't know and carries no email, it reads the customer from src
// (outside any transaction, as ApplyOrderWithLookup does) and applies it again.
// Errors: ErrNeedCustomer when src is nil; ErrCustomerLookup when the CRM can't be read.
func (s *Store) ApplyCRMMembershipWithLookup(ctx context.Context, ev MembershipEvent, tenant string, src CustomerSource) (MembershipResult, error) {
	res, err := s.ApplyCRMMembership(ctx, ev)
	if !errors.Is(err, ErrNeedCustomer) || src == nil {
		return res, err
	}
	id := ev.Membership.CustomerCRMID
	c, err := src.Customer(ctx, ev.ClientID, tenant, id)
	if err != nil {
		return MembershipResult{}, fmt.Errorf("%w: customer %s: %w", ErrCustomerLookup, id, err)
	}
	m := &ev.Membership
	m.Email, m.FirstName, m.LastName = c.Email, c.FirstName, c.LastName
	ev.lookedUp = true
	return s.ApplyCRMMembership(ctx, ev)
}
