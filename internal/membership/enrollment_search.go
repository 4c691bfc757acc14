package membership

import (
	"context"
	_ "embed" // the statements below
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/apperr"
)

var (
	//go:embed sql/enrollment_search.sql
	sqlEnrollmentSearch string
	//go:embed sql/customer_emails.sql
	sqlCustomerEmails string
)

// MaxSearchBytes caps SearchEnrollments' search text: an email's length, longer than any
// name an operator types.
const MaxSearchBytes = MaxEmailBytes

// SearchEnrollments is ListEnrollments (same filter, order, page and cursor) narrowed to
// customers whose email or name ("first last") contains search, case-insensitively; an
// empty search is ListEnrollments. It serves the admin page's members list, where an
// operator types part of a name or an email rather than a whole address.
func (s *Store) SearchEnrollments(ctx context.Context, f EnrollmentFilter, search string, p Page) ([]EnrollmentItem, string, error) {
	search = strings.TrimSpace(search)
	if search == "" {
		return s.ListEnrollments(ctx, f, p)
	}
	// Lengths first, so that no message echoes a long value.
	if len(search) > MaxSearchBytes {
		return nil, "", apperr.BadRequestf("search is %d bytes long; at most %d", len(search), MaxSearchBytes)
	}
	if !utf8.ValidString(search) || strings.ContainsRune(search, 0) {
		return nil, "", apperr.BadRequestf("search is not valid UTF-8 text")
	}
	args, err := f.args()
	if err != nil {
		return nil, "", err
	}
	args["search"] = search
	args["after_enrolled_at"], args["after_id"] = nil, nil
	if p.Cursor != "" {
		var c enrollmentCursor
		if err := decodeCursor(p.Cursor, &c); err != nil {
			return nil, "", err
		}
		if checkUUID("cursor", c.ID) != nil || c.EnrolledAt.IsZero() {
			return nil, "", apperr.BadRequestf("cursor %q is not one this API returned", clip(p.Cursor, 120))
		}
		args["after_enrolled_at"], args["after_id"] = c.EnrolledAt, c.ID
	}
	args["limit"] = p.Limit + 1
	rows, err := s.pool.Query(ctx, sqlEnrollmentSearch, args)
	if err != nil {
		return nil, "", fmt.Errorf("search enrollments: %w", err)
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
		return nil, "", fmt.Errorf("search enrollments: %w", err)
	}
	next := ""
	if len(items) > p.Limit {
		items = items[:p.Limit]
		last := items[len(items)-1]
		next = encodeCursor(enrollmentCursor{EnrolledAt: last.EnrolledAt, ID: last.ID})
	}
	return items, next, nil
}

// CustomerEmails returns the emails of the customers ids (of any client) by id; a
// customer that is gone is absent. It is how a list of another table's rows (the
// queue's) shows whom each row is about in one read rather than one per row.
func (s *Store) CustomerEmails(ctx context.Context, ids []string) (map[string]string, error) {
	out := make(map[string]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	for _, id := range ids {
		if err := checkUUID("customer id", id); err != nil {
			return nil, err
		}
	}
	rows, err := s.pool.Query(ctx, sqlCustomerEmails, pgx.StrictNamedArgs{"ids": ids})
	if err != nil {
		return nil, fmt.Errorf("customer emails: %w", err)
	}
	var id, email string
	if _, err := pgx.ForEachRow(rows, []any{&id, &email}, func() error { out[id] = email; return nil }); err != nil {
		return nil, fmt.Errorf("customer emails: %w", err)
	}
	return out, nil
}
