package membership

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/apperr"
	"tiersync/internal/db"
	"tiersync/internal/queue"
)

// Enrollment statuses.
const (
	EnrollmentActive    = "active"
	EnrollmentExpired   = "expired"
	EnrollmentUpgraded  = "upgraded"
	EnrollmentCancelled = "cancelled"
)

// Enrollment events (enrollment_events.event) written here; the expiration function
// writes "expired", and cause "order" marks an order's doing.
const (
	eventEnrolled = "enrolled"
	eventUpgraded = "upgraded"
	eventRenewed  = "renewed"
	causeOrder    = "order"
)

// Enrollment is a customer's membership of a tier.
type Enrollment struct {
	ID              string    `json:"id"`
	Status          string    `json:"status"`
	ClientID        string    `json:"client_id"`
	TierID          string    `json:"tier_id"`
	CustomerID      string    `json:"customer_id"`
	EnrolledAt      time.Time `json:"enrolled_at"`
	ExpiresAt       time.Time `json:"expires_at"`
	CRMMembershipID *string   `json:"crm_membership_id"`
}

// Sync is the state of an enrollment's latest queue row.
type Sync struct {
	QueueID int64  `json:"queue_id"`
	Status  string `json:"status"`
}

// Address is a postal address as the API takes it.
type Address struct {
	Address     string `json:"address"`
	Address2    string `json:"address2"`
	City        string `json:"city"`
	StateCode   string `json:"state_code"`
	ZipCode     string `json:"zip_code"`
	CountryCode string `json:"country_code"`
}

// NewCustomer is the customer part of an enrollment request.
type NewCustomer struct {
	Email     string   `json:"email"`
	FirstName string   `json:"first_name"`
	LastName  string   `json:"last_name"`
	CRMID     *string  `json:"crm_id"`
	Phone     *string  `json:"phone"`
	Address   *Address `json:"address"`
}

// NewEnrollment is the input of Enroll.
type NewEnrollment struct {
	ClientID   string       `json:"client_id"`
	TierID     string       `json:"tier_id"`
	EnrolledAt *time.Time   `json:"enrolled_at"`
	Customer   *NewCustomer `json:"customer"`
	// Source is what made it: "api" (the default) or "cli".
	Source string `json:"-"`
}

var countryRe = regexp.MustCompile(`^[A-Z]{2}$`)

// CheckEmail returns the email trimmed, or a 400 saying why it is not one.
func CheckEmail(field, email string) (string, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return "", apperr.BadRequestf("%s is required", field)
	}
	if len(email) > MaxEmailBytes {
		return "", apperr.BadRequestf("%s is longer than %d bytes: not an email address", field, MaxEmailBytes)
	}
	// net/mail lets Unicode spaces (U+3000, U+2028) through, which the database's CHECK
	// (no [:space:] around the @) refuses: a 500 unless refused here.
	hasSpace := strings.IndexFunc(email, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0
	a, err := mail.ParseAddress(email)
	if err != nil || hasSpace || a.Address != email || a.Name != "" {
		return "", apperr.BadRequestf("%s %q is not an email address", field, email)
	}
	return email, nil
}

// validate checks the request; now is the clock (enrolled_at may not be in the future).
func (in *NewEnrollment) validate(now time.Time) error {
	if in.ClientID == "" {
		return apperr.BadRequestf("client_id is required")
	}
	if err := CheckUUID("client_id", in.ClientID); err != nil {
		return err
	}
	if in.TierID == "" {
		return apperr.BadRequestf("tier_id is required")
	}
	if err := CheckUUID("tier_id", in.TierID); err != nil {
		return err
	}
	c := in.Customer
	if c == nil {
		return apperr.BadRequestf("customer is required")
	}
	var err error
	if c.Email, err = CheckEmail("customer.email", c.Email); err != nil {
		return err
	}
	c.FirstName, c.LastName = strings.TrimSpace(c.FirstName), strings.TrimSpace(c.LastName)
	if c.FirstName == "" {
		return apperr.BadRequestf("customer.first_name is required")
	}
	if c.LastName == "" {
		return apperr.BadRequestf("customer.last_name is required")
	}
	if err := checkText("customer.first_name", c.FirstName, MaxNameChars); err != nil {
		return err
	}
	if err := checkText("customer.last_name", c.LastName, MaxNameChars); err != nil {
		return err
	}
	if c.CRMID != nil {
		if *c.CRMID = strings.TrimSpace(*c.CRMID); *c.CRMID == "" {
			return apperr.Invalidf("customer.crm_id is empty; leave it out when unknown")
		}
		if err := CheckCRMID("customer.crm_id", *c.CRMID); err != nil {
			return err
		}
	}
	if c.Phone != nil {
		if *c.Phone = strings.TrimSpace(*c.Phone); *c.Phone == "" {
			c.Phone = nil
		} else if err := checkText("customer.phone", *c.Phone, MaxPhoneChars); err != nil {
			return err
		}
	}
	if a := c.Address; a != nil {
		fields := []struct {
			name     string
			v        *string
			required bool
		}{{"address", &a.Address, true}, {"address2", &a.Address2, false}, {"city", &a.City, true},
			{"state_code", &a.StateCode, false}, {"zip_code", &a.ZipCode, true}, {"country_code", &a.CountryCode, true}}
		for _, f := range fields {
			*f.v = strings.TrimSpace(*f.v)
			if f.required && *f.v == "" {
				return apperr.BadRequestf("customer.address.%s is required", f.name)
			}
			if err := checkText("customer.address."+f.name, *f.v, MaxAddressChars); err != nil {
				return err
			}
		}
		a.CountryCode = strings.ToUpper(a.CountryCode)
		if !countryRe.MatchString(a.CountryCode) {
			return apperr.Invalidf("customer.address.country_code %q is not an ISO 3166 two-letter code", a.CountryCode)
		}
		if a.CountryCode == "US" && a.StateCode == "" {
			return apperr.BadRequestf("customer.address.state_code is required for US addresses")
		}
	}
	if in.EnrolledAt != nil && in.EnrolledAt.After(now) {
		return apperr.Invalidf("enrolled_at %s is in the future", in.EnrolledAt.UTC().Format(time.RFC3339))
	}
	switch in.Source {
	case "":
		in.Source = "api"
	case "api", "cli", "admin": // admin: the admin page's enroll form (migration 00017)
	default:
		return fmt.Errorf("enroll: unknown source %q", in.Source)
	}
	return nil
}

// ValidateEnrollment checks a request as Enroll does, without the database (fuzzing).
func ValidateEnrollment(in *NewEnrollment) error { return in.validate(time.Now()) }

// EnrollResult is what Enroll made.
type EnrollResult struct {
	Enrollment Enrollment
	QueueID    int64
	CRMType    string
}

// Enroll makes the customer (found by email, or created) a member of the tier: in ONE
// transaction the customer, the enrollment, its event, the customer's flags and a
// high-priority add_membership row; the workers are woken at commit. It never talks to
// the CRM, so a CRM that is down cannot fail it.
func (s *Store) Enroll(ctx context.Context, in NewEnrollment) (EnrollResult, error) {
	if err := in.validate(time.Now()); err != nil {
		return EnrollResult{}, err
	}
	var res EnrollResult
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, sqlClientCRMType, pgx.StrictNamedArgs{"id": in.ClientID}).Scan(&res.CRMType); errors.Is(err, pgx.ErrNoRows) {
			return apperr.NotFoundf("client %s not found", in.ClientID)
		} else if err != nil {
			return fmt.Errorf("enroll: read client: %w", err)
		}
		var duration int
		var tierClient, delivery string
		if err := tx.QueryRow(ctx, sqlTierForEnrollment, pgx.StrictNamedArgs{"id": in.TierID}).Scan(&tierClient, &duration, &delivery); errors.Is(err, pgx.ErrNoRows) {
			return apperr.NotFoundf("tier %s not found", in.TierID)
		} else if err != nil {
			return fmt.Errorf("enroll: read tier: %w", err)
		}
		if tierClient != in.ClientID {
			return apperr.Invalidf("tier %s belongs to another client", in.TierID)
		}

		c := in.Customer
		var customerID string
		var crmID *string
		var hasAddress bool
		err := tx.QueryRow(ctx, sqlCustomerUpsert, pgx.StrictNamedArgs{
			"client_id": in.ClientID, "email": c.Email, "first_name": c.FirstName, "last_name": c.LastName,
			"phone": c.Phone, "address": c.Address, "crm_id": c.CRMID,
		}).Scan(&customerID, &crmID, &hasAddress)
		if errors.Is(err, pgx.ErrNoRows) {
			// The customer exists with another crm_id: the upsert's WHERE refused it.
			return apperr.Conflictf("customer %s is linked to another CRM customer than %s", c.Email, *c.CRMID)
		}
		if constraint, dup := db.UniqueViolation(err); dup && constraint == "customers_client_crm_id_key" {
			return apperr.Conflictf("crm_id %s belongs to another customer of this client", *c.CRMID)
		}
		if err != nil {
			return fmt.Errorf("enroll: customer: %w", err)
		}
		if err := checkShipAddress(res.CRMType, delivery, crmID, hasAddress); err != nil {
			return err // the transaction rolls back: nothing is written
		}

		e := &res.Enrollment
		err = tx.QueryRow(ctx, sqlEnrollmentInsert, pgx.StrictNamedArgs{
			"client_id": in.ClientID, "customer_id": customerID, "tier_id": in.TierID,
			"enrolled_at": in.EnrolledAt, "duration_months": duration, "source": in.Source,
		}).Scan(&e.ID, &e.Status, &e.ClientID, &e.TierID, &e.CustomerID, &e.EnrolledAt, &e.ExpiresAt, &e.CRMMembershipID)
		if constraint, dup := db.UniqueViolation(err); dup && constraint == "enrollments_one_active_per_customer" {
			var existing string
			_ = s.pool.QueryRow(ctx, sqlEnrollmentActiveID, pgx.StrictNamedArgs{"customer_id": customerID}).Scan(&existing)
			return apperr.Conflictf("customer %s is already enrolled", c.Email).With("enrollment_id", existing)
		}
		if err != nil {
			return fmt.Errorf("enroll: enrollment: %w", err)
		}
		if !e.ExpiresAt.After(time.Now()) {
			return apperr.Invalidf("enrolled_at %s plus %d months is already past: the membership would be expired at once",
				e.EnrolledAt.UTC().Format(time.RFC3339), duration)
		}
		if _, err := tx.Exec(ctx, sqlEnrollmentEventInsert, pgx.StrictNamedArgs{
			"enrollment_id": e.ID, "event": eventEnrolled, "old_tier_id": nil, "new_tier_id": e.TierID,
			"old_expires_at": nil, "new_expires_at": e.ExpiresAt, "cause": in.Source, "order_id": nil,
		}); err != nil {
			return fmt.Errorf("enroll: event: %w", err)
		}
		if _, err := tx.Exec(ctx, sqlCustomerSetMember, pgx.StrictNamedArgs{"id": customerID, "tier_id": e.TierID}); err != nil {
			return fmt.Errorf("enroll: customer flags: %w", err)
		}
		ids, err := queue.Enqueue(ctx, tx, queue.NewJob{ClientID: in.ClientID, CustomerID: customerID, EnrollmentID: &e.ID,
			ActionType: queue.ActionAdd, TierID: e.TierID, CustomerCRMID: crmID, Priority: queue.PriorityHigh,
			RateKey: RateKey(in.ClientID), OrderKey: orderKey(customerID)})
		if err != nil {
			return err
		}
		res.QueueID = ids[0]
		return nil
	})
	if err != nil {
		return EnrollResult{}, err
	}
	res.Enrollment.EnrolledAt = res.Enrollment.EnrolledAt.UTC()
	res.Enrollment.ExpiresAt = res.Enrollment.ExpiresAt.UTC()
	return res, nil
}

// checkShipAddress refuses a Commerce7 Ship membership that could only fail at the CRM:
// Commerce7 ships to an address of the customer's, and a customer we create there has
// none unless the enrollment (or an earlier one) brought it. A customer with a crm_id is
// already in Commerce7 and may have an address there, which the syncer uses.
func checkShipAddress(crmType, delivery string, crmID *string, hasAddress bool) error {
	if crmType != CRMCommerce7 || delivery != DeliveryShip || crmID != nil || hasAddress {
		return nil
	}
	return apperr.Invalidf("a Ship tier needs the customer's address: send customer.address " +
		"{address, address2?, city, state_code (required in the US), zip_code, country_code}, " +
		"or customer.crm_id of a Commerce7 customer who has an address there")
}

// GetEnrollment returns an enrollment and its latest queue row (nil when it has none).
func (s *Store) GetEnrollment(ctx context.Context, id string) (Enrollment, *Sync, error) {
	if err := CheckUUID("enrollment id", id); err != nil {
		return Enrollment{}, nil, err
	}
	var e Enrollment
	err := s.pool.QueryRow(ctx, sqlEnrollmentGet, pgx.StrictNamedArgs{"id": id}).Scan(&e.ID, &e.Status, &e.ClientID, &e.TierID, &e.CustomerID,
		&e.EnrolledAt, &e.ExpiresAt, &e.CRMMembershipID)
	if errors.Is(err, pgx.ErrNoRows) {
		return Enrollment{}, nil, apperr.NotFoundf("enrollment %s not found", id)
	}
	if err != nil {
		return Enrollment{}, nil, fmt.Errorf("read enrollment %s: %w", id, err)
	}
	e.EnrolledAt, e.ExpiresAt = e.EnrolledAt.UTC(), e.ExpiresAt.UTC()
	qid, qstatus, found, err := queue.LatestForEnrollment(ctx, s.pool, e.ID)
	if err != nil || !found {
		return e, nil, err
	}
	return e, &Sync{QueueID: qid, Status: qstatus}, nil
}
