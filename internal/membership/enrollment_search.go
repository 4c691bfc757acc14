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

//go:embed sql/customer_emails.sql
var sqlCustomerEmails string

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
	return s.listEnrollments(ctx, f, &search, p)
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
		if err := CheckUUID("customer id", id); err != nil {
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
