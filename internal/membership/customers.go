package membership

import (
	"context"
	_ "embed" // the statements below
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/apperr"
)

var (
	//go:embed sql/customer_list.sql
	sqlCustomerList string
	//go:embed sql/customer_get.sql
	sqlCustomerGet string
)

// Customer is a customer row as operators see it (API, admin page), with its current
// tier's name.
type Customer struct {
	ID                 string          `json:"id"`
	ClientID           string          `json:"client_id"`
	Email              string          `json:"email"`
	FirstName          string          `json:"first_name"`
	LastName           string          `json:"last_name"`
	Phone              *string         `json:"phone"`
	Address            json.RawMessage `json:"address"`
	CRMID              *string         `json:"crm_id"`
	IsClubMember       bool            `json:"is_club_member"`
	CurrentTierID      *string         `json:"current_tier_id"`
	CurrentTierName    *string         `json:"current_tier_name"`
	LifetimeValueCents int64           `json:"lifetime_value_cents"`
	CreatedAt          time.Time       `json:"created_at"`
	UpdatedAt          time.Time       `json:"updated_at"`
}

// CustomerDetail is a customer with its enrollments (oldest first, each with its history)
// and its orders (oldest first).
type CustomerDetail struct {
	Customer
	Enrollments []EnrollmentRecord `json:"enrollments"`
	Orders      []OrderRecord      `json:"orders"`
}

// CustomerFilter narrows ListCustomers; empty fields match everything.
type CustomerFilter struct {
	ClientID string
	// Email is matched exactly, in any case.
	Email string
}

func scanCustomer(row pgx.CollectableRow) (Customer, error) {
	var c Customer
	var address []byte
	err := row.Scan(&c.ID, &c.ClientID, &c.Email, &c.FirstName, &c.LastName, &c.Phone, &address, &c.CRMID,
		&c.IsClubMember, &c.CurrentTierID, &c.CurrentTierName, &c.LifetimeValueCents, &c.CreatedAt, &c.UpdatedAt)
	c.Address = json.RawMessage("null")
	if address != nil {
		c.Address = address
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, err
}

// args checks the filter (lengths first, so that no message echoes a long value) and
// returns its SQL parameters (nil for "any").
func (f CustomerFilter) args() (pgx.StrictNamedArgs, error) {
	for _, p := range []struct {
		name, v string
		max     int
	}{{"client_id", f.ClientID, 36}, {"email", f.Email, MaxEmailBytes}} {
		if len(p.v) > p.max {
			return nil, apperr.BadRequestf("%s is %d bytes long; at most %d", p.name, len(p.v), p.max)
		}
		if !utf8.ValidString(p.v) || strings.ContainsRune(p.v, 0) {
			return nil, apperr.BadRequestf("%s is not valid UTF-8 text", p.name)
		}
	}
	args := pgx.StrictNamedArgs{"client_id": nil, "email": nil}
	if f.ClientID != "" {
		if err := CheckUUID("client_id", f.ClientID); err != nil {
			return nil, err
		}
		args["client_id"] = f.ClientID
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

// ListCustomers returns one page of customers, newest first, and the next page's cursor
// ("" on the last page). An unknown client matches nothing.
func (s *Store) ListCustomers(ctx context.Context, f CustomerFilter, p Page) ([]Customer, string, error) {
	args, err := f.args()
	if err != nil {
		return nil, "", err
	}
	if err := setAfter(args, "created_at", p); err != nil {
		return nil, "", err
	}
	args["limit"] = p.Limit + 1
	rows, err := s.pool.Query(ctx, sqlCustomerList, args)
	if err != nil {
		return nil, "", fmt.Errorf("list customers: %w", err)
	}
	items, err := pgx.CollectRows(rows, scanCustomer)
	if err != nil {
		return nil, "", fmt.Errorf("list customers: %w", err)
	}
	next := ""
	if len(items) > p.Limit {
		items = items[:p.Limit]
		last := items[len(items)-1]
		next = encodeCursor(timeCursor{At: last.CreatedAt, ID: last.ID})
	}
	return items, next, nil
}

// GetCustomer returns a customer with its enrollments (and their history) and orders,
// read in one snapshot.
func (s *Store) GetCustomer(ctx context.Context, id string) (CustomerDetail, error) {
	if err := CheckUUID("customer id", id); err != nil {
		return CustomerDetail{}, err
	}
	// REPEATABLE READ: the customer, its enrollments and its orders as of one moment (an
	// order arriving between two reads would otherwise show a lifetime value that its
	// orders do not add up to).
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return CustomerDetail{}, fmt.Errorf("read customer %s: %w", id, err)
	}
	defer func() { _ = tx.Rollback(ctx) }() // read-only: nothing to keep
	rows, err := tx.Query(ctx, sqlCustomerGet, pgx.StrictNamedArgs{"id": id})
	if err != nil {
		return CustomerDetail{}, fmt.Errorf("read customer %s: %w", id, err)
	}
	c, err := pgx.CollectExactlyOneRow(rows, scanCustomer)
	if errors.Is(err, pgx.ErrNoRows) {
		return CustomerDetail{}, apperr.NotFoundf("customer %s not found", id)
	}
	if err != nil {
		return CustomerDetail{}, fmt.Errorf("read customer %s: %w", id, err)
	}
	d, found, err := s.CustomerData(ctx, tx, c.ClientID, id)
	if err != nil {
		return CustomerDetail{}, err
	}
	if !found {
		return CustomerDetail{}, apperr.NotFoundf("customer %s not found", id)
	}
	return CustomerDetail{Customer: c, Enrollments: d.Enrollments, Orders: d.Orders}, nil
}
