// Package membership holds the domain of tiersync: clients (wineries), tiers, customers,
// enrollments and orders, and the rules that move a customer between tiers.
package membership

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/apperr"
	"tiersync/internal/secretbox"
)

// Store reads and writes the membership tables.
type Store struct {
	pool *pgxpool.Pool
	box  *secretbox.Box
}

// NewStore makes a Store. box encrypts stored CRM tokens; without one, Shopify clients
// cannot be created.
func NewStore(pool *pgxpool.Pool, box *secretbox.Box) *Store {
	return &Store{pool: pool, box: box}
}

// MaxPageLimit is the largest page a list returns: the API's ?limit= maximum, and what
// the admin page asks for when it shows a whole list.
const MaxPageLimit = 500

// Page asks for one page of a list.
type Page struct {
	// Limit is the page size; the caller has checked it (1..MaxPageLimit).
	Limit int
	// Cursor is the previous page's next cursor, or "".
	Cursor string
}

// encodeCursor makes an opaque cursor from the sort key of a page's last item.
func encodeCursor(key any) string {
	b, _ := json.Marshal(key) // plain values: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor made by encodeCursor into key.
func decodeCursor(cursor string, key any) error {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || json.Unmarshal(b, key) != nil {
		return apperr.BadRequestf("cursor %q is not one this API returned", cursor)
	}
	return nil
}

// timeCursor is the sort key of a page's last row in the lists ordered newest first by a
// time, then by id (enrollments, customers).
type timeCursor struct {
	At time.Time `json:"t"`
	ID string    `json:"id"`
}

// setAfter puts a page's cursor into args as after_<at> and after_id: both NULL on the
// first page. A cursor that does not decode to a time and a UUID is a 400.
func setAfter(args pgx.StrictNamedArgs, at string, p Page) error {
	args["after_"+at], args["after_id"] = nil, nil
	if p.Cursor == "" {
		return nil
	}
	var c timeCursor
	if err := decodeCursor(p.Cursor, &c); err != nil {
		return err
	}
	if CheckUUID("cursor", c.ID) != nil || c.At.IsZero() {
		return apperr.BadRequestf("cursor %q is not one this API returned", clip(p.Cursor, 120))
	}
	args["after_"+at], args["after_id"] = c.At, c.ID
	return nil
}

var uuidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// CheckUUID refuses an id that is not a UUID before PostgreSQL does it with a 500.
func CheckUUID(field, v string) error {
	if !uuidRe.MatchString(v) {
		// Clipped: an id from a path or a query can be kilobytes long.
		return apperr.BadRequestf("%s %q is not a UUID", field, clip(v, 64))
	}
	return nil
}
