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
