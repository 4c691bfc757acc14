package shopifyapp_test

import (
	"context"
	"errors"
	"testing"

	"tiersync/internal/db/dbtest"
	"tiersync/internal/secretbox"
	"tiersync/internal/shopifyapp"
	"tiersync/internal/testfactory"
)

// TestCheckKey: the first start stores its key's check value and every later start with
// another key is refused; a database that holds sealed credentials from before the check
// (no value stored) refuses a key that cannot open them, and adopts one that can.
func TestCheckKey(t *testing.T) {
	t.Parallel()
	other := []byte("another-32-byte-key-for-tests-00")
	cases := []struct {
		name   string
		sealed bool     // a Shopify client sealed with testfactory.SecretKey exists first
		starts [][]byte // keys of successive starts
		wrong  []bool   // whether each start is refused
	}{
		{"first start stores, same key again", false, [][]byte{other, other}, []bool{false, false}},
		{"another key after the first", false, [][]byte{[]byte(testfactory.SecretKey), other, []byte(testfactory.SecretKey)}, []bool{false, true, false}},
		{"sealed before the check: wrong key", true, [][]byte{other, []byte(testfactory.SecretKey)}, []bool{true, false}},
		{"sealed before the check: right key, then another", true, [][]byte{[]byte(testfactory.SecretKey), other}, []bool{false, true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			pool := dbtest.New(t)
			if c.sealed {
				testfactory.Client(t, pool, testfactory.ClientOpts{CRMType: "shopify"})
			}
			for i, key := range c.starts {
				box, err := secretbox.New(key)
				if err != nil {
					t.Fatal(err)
				}
				err = shopifyapp.New(shopifyapp.Config{Pool: pool, Box: box}).CheckKey(context.Background())
				if got := errors.Is(err, shopifyapp.ErrWrongKey); got != c.wrong[i] || (!c.wrong[i] && err != nil) {
					t.Fatalf("start %d: %v, want refused=%v", i+1, err, c.wrong[i])
				}
			}
		})
	}
}

// TestCheckKeyRacingStart: two replicas start at once on a fresh database. This one's
// insert waits on the other's, uncommitted; once the other commits, this one's statement
// skips its row and its snapshot cannot see the other's. It must read the stored value
// again, not fail (it failed "no rows in result set" with three replicas through PgBouncer).
func TestCheckKeyRacingStart(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		other []byte // the racing replica's key
		wrong bool
	}{
		{"same key", []byte(testfactory.SecretKey), false},
		{"another key", []byte("another-32-byte-key-for-tests-00"), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			pool := dbtest.New(t)
			otherBox, _ := secretbox.New(c.other)
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx) //nolint:errcheck
			if _, err := tx.Exec(ctx, `INSERT INTO secret_key_check (check_value) VALUES ($1)`, otherBox.CheckValue()); err != nil {
				t.Fatal(err)
			}
			box, _ := secretbox.New([]byte(testfactory.SecretKey))
			done := make(chan error, 1)
			go func() { done <- shopifyapp.New(shopifyapp.Config{Pool: pool, Box: box}).CheckKey(ctx) }()
			// Commit once this start's insert waits on ours.
			for waiting := 0; waiting == 0; {
				select {
				case err := <-done:
					t.Fatalf("CheckKey returned before the racing start committed: %v", err)
				default:
				}
				if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
					WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%secret_key_check%'`).Scan(&waiting); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			err = <-done
			if got := errors.Is(err, shopifyapp.ErrWrongKey); got != c.wrong || (!c.wrong && err != nil) {
				t.Fatalf("CheckKey: %v, want refused=%v", err, c.wrong)
			}
		})
	}
}
