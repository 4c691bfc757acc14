package membership

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Subject is what a queue row is about, as an operator reads it: the row itself only
// holds ids.
type Subject struct {
	ClientName, CRMType        string
	Email, FirstName, LastName string
	CRMID                      *string
	// The enrollment's fields are nil when the row has none (or it is gone).
	EnrollmentStatus, Tier *string
	EnrollmentExpires      *time.Time
	CRMMembershipID        *string
}

// Subject describes a queue row's client, customer and enrollment (enrollmentID may be
// nil). found is false when the client or the customer no longer exists.
func (s *Store) Subject(ctx context.Context, clientID, customerID string, enrollmentID *string) (sub Subject, found bool, err error) {
	err = s.pool.QueryRow(ctx, sqlSubject, pgx.StrictNamedArgs{
		"client_id": clientID, "customer_id": customerID, "enrollment_id": enrollmentID,
	}).Scan(&sub.ClientName, &sub.CRMType, &sub.Email, &sub.FirstName, &sub.LastName, &sub.CRMID,
		&sub.EnrollmentStatus, &sub.Tier, &sub.EnrollmentExpires, &sub.CRMMembershipID)
	if errors.Is(err, pgx.ErrNoRows) {
		return Subject{}, false, nil
	}
	if err != nil {
		return Subject{}, false, fmt.Errorf("describe queue row of customer %s: %w", customerID, err)
	}
	return sub, true, nil
}

// ClientsByName returns every client ordered by name (then id), unpaged: for the admin
// page, where the clients are a winery operator's handful.
func (s *Store) ClientsByName(ctx context.Context) ([]Client, error) {
	rows, err := s.pool.Query(ctx, sqlClientListByName)
	if err != nil {
		return nil, fmt.Errorf("clients by name: %w", err)
	}
	clients, err := pgx.CollectRows(rows, scanClient)
	if err != nil {
		return nil, fmt.Errorf("clients by name: %w", err)
	}
	return clients, nil
}
