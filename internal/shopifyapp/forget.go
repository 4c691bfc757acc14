package shopifyapp

import (
	"context"
	_ "embed" // the statement below
	"fmt"

	"github.com/jackc/pgx/v5"
)

//go:embed sql/delete.sql
var sqlDelete string

// Forget deletes a client's connection (its tokens and secrets) in tx, for shop/redact,
// before the client itself goes. No connection is no error: a Commerce7 client has none.
func (s *Store) Forget(ctx context.Context, tx pgx.Tx, clientID string) error {
	if _, err := tx.Exec(ctx, sqlDelete, pgx.StrictNamedArgs{"client_id": clientID}); err != nil {
		return fmt.Errorf("delete the shopify connection of client %s: %w", clientID, err)
	}
	return nil
}
