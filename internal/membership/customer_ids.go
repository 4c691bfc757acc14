package membership

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/apperr"
)

// MaxCustomerIDsByEmail caps CustomerIDsByEmail's answer: a search by a common part
// ("example.com") stops at this many customers, the first by id, so that the queue
// filter it feeds stays one small array parameter. A search past the cap misses the
// other customers' rows; a more precise part finds them.
const MaxCustomerIDsByEmail = 1000

// CustomerIDsByEmail returns the ids of the customers whose email contains part,
// case-insensitively and literally (% and _ match themselves), at most limit of them
// (limit ≤ 0 or above MaxCustomerIDsByEmail: MaxCustomerIDsByEmail), never nil. It is
// how the queue list's email filter becomes a filter on the queue's own columns.
// A part longer than an email can be (254 bytes), empty, or not valid text is a
// BadRequest whose message does not echo it.
func (s *Store) CustomerIDsByEmail(ctx context.Context, part string, limit int) ([]string, error) {
	if len(part) > MaxEmailBytes {
		return nil, apperr.BadRequestf("email is %d bytes long; at most %d", len(part), MaxEmailBytes)
	}
	if part == "" {
		return nil, apperr.BadRequestf("email is empty")
	}
	if !utf8.ValidString(part) || strings.ContainsRune(part, 0) {
		return nil, apperr.BadRequestf("email is not valid UTF-8 text")
	}
	if limit <= 0 || limit > MaxCustomerIDsByEmail {
		limit = MaxCustomerIDsByEmail
	}
	rows, err := s.pool.Query(ctx, sqlCustomerIDsByEmail, pgx.StrictNamedArgs{"part": part, "limit": limit})
	if err != nil {
		return nil, fmt.Errorf("customers by email: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("customers by email: %w", err)
	}
	if ids == nil {
		ids = []string{}
	}
	return ids, nil
}
