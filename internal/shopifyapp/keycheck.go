package shopifyapp

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrWrongKey means TIERSYNC_SECRET_KEY is not the key that sealed this database's stored
// credentials.
var ErrWrongKey = errors.New("TIERSYNC_SECRET_KEY is not the key this database's stored credentials were sealed with")

// CheckKey proves this process's TIERSYNC_SECRET_KEY is the deployment's. The first start
// stores the key's check value (secret_key_check); every later start compares. A wrong
// key would otherwise start fine and then fail every Shopify call and webhook of every
// shop, one request at a time, each looking like a broken connection. On the first start
// of a database that already holds sealed credentials (one upgraded from before the
// check), the key must open one of them before its check value is stored.
func (s *Store) CheckKey(ctx context.Context) error {
	if s.box == nil {
		return errors.New("key check: no TIERSYNC_SECRET_KEY")
	}
	mine := s.box.CheckValue()
	var stored []byte
	var since time.Time
	err := s.pool.QueryRow(ctx, sqlKeyCheckGet).Scan(&stored, &since)
	if err == nil {
		return compareKey(stored, mine, since)
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("key check: %w", err)
	}
	// The first start with the check: a database upgraded from before it may hold sealed
	// credentials already, and must not adopt a wrong key's check value. The key must open
	// one of them first.
	var client string
	var sealed []byte
	err = s.pool.QueryRow(ctx, sqlAnySealed).Scan(&client, &sealed)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return fmt.Errorf("key check: read a sealed credential: %w", err)
	default:
		if _, err := s.box.Open(sealed, []byte(client)); err != nil {
			return fmt.Errorf("%w: it cannot open client %s's Shopify credentials; start with the original key", ErrWrongKey, client)
		}
	}
	var inserted bool
	err = s.pool.QueryRow(ctx, sqlKeyCheckInsert, pgx.StrictNamedArgs{"check_value": mine}).Scan(&stored, &since, &inserted)
	if errors.Is(err, pgx.ErrNoRows) {
		// Another replica's insert committed while ours waited on it: the conflict skipped
		// our row, and the statement's snapshot, older than that commit, cannot see theirs.
		// A new statement can.
		err = s.pool.QueryRow(ctx, sqlKeyCheckGet).Scan(&stored, &since)
	}
	if err != nil {
		return fmt.Errorf("key check: %w", err)
	}
	// Another replica starting at the same moment may have stored its key's value first.
	return compareKey(stored, mine, since)
}

func compareKey(stored, mine []byte, since time.Time) error {
	if !hmac.Equal(stored, mine) {
		return fmt.Errorf("%w (its check value, stored %s, differs): start with the original key; "+
			"if it is lost, see \"Keep TIERSYNC_SECRET_KEY\" in README.md", ErrWrongKey, since.UTC().Format(time.RFC3339))
	}
	return nil
}
