package db_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/db/dbtest"
)

// unindexedOnPurpose are the foreign keys left without an index on their referencing
// columns, each with the reason (migration 00008 says more).
var unindexedOnPurpose = map[string]string{
	"crm_sync_queue_client_id_fkey": "the hot queue table: nothing deletes clients, and the engine claims by rate_key",
	"crm_sync_queue_customer_fkey":  "the hot queue table: nothing deletes customers, and the engine orders by order_key",
}

// TestForeignKeysAreIndexed finds every foreign key whose referencing columns lead no
// index that a foreign-key check can use: deleting a referenced row would scan the
// referencing table. An index serves when its first column is the key's first column
// (the keys here are uuids or ids, selective on their own) and it is either whole or
// partial on "that column IS NOT NULL".
func TestForeignKeysAreIndexed(t *testing.T) {
	pool := dbtest.New(t)
	rows, err := pool.Query(context.Background(), `
		SELECT c.conname
		FROM pg_constraint c
		JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
		WHERE c.contype = 'f'
		  AND c.connamespace = 'public'::regnamespace
		  AND NOT EXISTS (
		      SELECT 1 FROM pg_index i
		      WHERE i.indrelid = c.conrelid
		        AND i.indkey[0] = c.conkey[1]
		        AND (i.indpred IS NULL
		             OR pg_get_expr(i.indpred, i.indrelid) = format('(%I IS NOT NULL)', a.attname)))
		ORDER BY c.conname`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if _, ok := unindexedOnPurpose[name]; !ok {
			t.Errorf("foreign key %s has no index on its referencing columns: add one in a migration (see 00008), or list it in unindexedOnPurpose with the reason", name)
		}
	}
}
