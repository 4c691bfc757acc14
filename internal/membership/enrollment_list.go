package membership

import (
	"context"
	_ "embed" // the statement below
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/apperr"
)

//go:embed sql/enrollment_list.sql
var sqlEnrollmentList string

// EnrollmentStatuses lists every enrollment status, in display order.
var EnrollmentStatuses = []string{EnrollmentActive, EnrollmentExpired, EnrollmentUpgraded, EnrollmentCancelled}

// EnrollmentFilter narrows ListEnrollments; empty fields match everything.
type EnrollmentFilter struct {
	ClientID string
	TierID   string
	Status   string
	// Email is the customer's email, matched exactly in any case.
	Email string
}

// EnrollmentItem is an enrollment as a list shows it: GetEnrollment's fields and what an
// operator reads it by (ids alone say nothing on a screen).
type EnrollmentItem struct {
	Enrollment
	CustomerEmail     string `json:"customer_email"`
	CustomerFirstName string `json:"customer_first_name"`
	CustomerLastName  string `json:"customer_last_name"`
	TierName          string `json:"tier_name"`
}

// args checks the filter and returns its SQL parameters (nil for "any"). Lengths are
// checked first, so that no message echoes a long value.
func (f EnrollmentFilter) args() (pgx.StrictNamedArgs, error) {
	for _, p := range []struct {
		name, v string
		max     int
	}{{"status", f.Status, 32}, {"client_id", f.ClientID, 36}, {"tier_id", f.TierID, 36}, {"email", f.Email, MaxEmailBytes}} {
		if len(p.v) > p.max {
			return nil, apperr.BadRequestf("%s is %d bytes long; at most %d", p.name, len(p.v), p.max)
		}
		if !utf8.ValidString(p.v) || strings.ContainsRune(p.v, 0) {
			return nil, apperr.BadRequestf("%s is not valid UTF-8 text", p.name)
		}
	}
	args := pgx.StrictNamedArgs{"client_id": nil, "tier_id": nil, "status": nil, "email": nil}
	if f.Status != "" {
		if !oneOf(f.Status, EnrollmentStatuses) {
			return nil, apperr.Invalidf("status %q is not one of %s", f.Status, strings.Join(EnrollmentStatuses, ", "))
		}
		args["status"] = f.Status
	}
	for _, p := range []struct{ name, v string }{{"client_id", f.ClientID}, {"tier_id", f.TierID}} {
		if p.v == "" {
			continue
		}
		if err := CheckUUID(p.name, p.v); err != nil {
			return nil, err
		}
		args[p.name] = p.v
	}
	if f.Email != "" {
		email, err := CheckEmail("email", f.Email)
		if err != nil {
			return nil, err
		}
		args["email"] = email
	}
	return args, nil
}

func oneOf(v string, set []string) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}

// ListEnrollments returns one page of enrollments, newest enrolled_at first, and the next
// page's cursor ("" on the last page). A filter naming a client or tier that does not
// exist matches nothing (an empty page), as the queue list's filters do.
func (s *Store) ListEnrollments(ctx context.Context, f EnrollmentFilter, p Page) ([]EnrollmentItem, string, error) {
	return s.listEnrollments(ctx, f, nil, p)
}

// listEnrollments is ListEnrollments narrowed, when search is not nil, to the customers
// whose email or name contains it (SearchEnrollments).
func (s *Store) listEnrollments(ctx context.Context, f EnrollmentFilter, search *string, p Page) ([]EnrollmentItem, string, error) {
	args, err := f.args()
	if err != nil {
		return nil, "", err
	}
	args["search"] = search
	if err := setAfter(args, "enrolled_at", p); err != nil {
		return nil, "", err
	}
	args["limit"] = p.Limit + 1
	rows, err := s.pool.Query(ctx, sqlEnrollmentList, args)
	if err != nil {
		return nil, "", fmt.Errorf("list enrollments: %w", err)
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (EnrollmentItem, error) {
		var it EnrollmentItem
		e := &it.Enrollment
		err := row.Scan(&e.ID, &e.Status, &e.ClientID, &e.TierID, &e.CustomerID, &e.EnrolledAt, &e.ExpiresAt, &e.CRMMembershipID,
			&it.CustomerEmail, &it.CustomerFirstName, &it.CustomerLastName, &it.TierName)
		e.EnrolledAt, e.ExpiresAt = e.EnrolledAt.UTC(), e.ExpiresAt.UTC()
		return it, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list enrollments: %w", err)
	}
	next := ""
	if len(items) > p.Limit {
		items = items[:p.Limit]
		last := items[len(items)-1]
		next = encodeCursor(timeCursor{At: last.EnrolledAt, ID: last.ID})
	}
	return items, next, nil
}
