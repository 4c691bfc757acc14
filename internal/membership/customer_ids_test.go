package membership_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"tiersync/internal/apperr"
	"tiersync/internal/db/dbtest"
	"tiersync/internal/membership"
	"tiersync/internal/testfactory"
)

// TestCustomerIDsByEmail: a literal, case-insensitive substring of the email, capped; a
// part that cannot be part of an email is a 400 that does not echo it.
func TestCustomerIDsByEmail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	store := membership.NewStore(pool, nil)
	ids := map[string]string{}
	for _, email := range []string{"a1b@example.com", "a_b@example.com", "Ada.Lovelace@Example.com", "x%y@other.example"} {
		client := testfactory.Client(t, pool, testfactory.ClientOpts{})
		ids[testfactory.Customer(t, pool, client, testfactory.CustomerOpts{Email: email})] = email
	}
	cases := []struct {
		part  string
		limit int
		want  []string // emails
		kind  apperr.Kind
	}{
		{part: "a_b", want: []string{"a_b@example.com"}},
		{part: "%", want: []string{"x%y@other.example"}},
		{part: "ADA.", want: []string{"Ada.Lovelace@Example.com"}},
		{part: "example.com", want: []string{"a1b@example.com", "a_b@example.com", "Ada.Lovelace@Example.com"}},
		{part: "example.com", limit: 2, want: nil}, // two of the three, by id: checked by count below
		{part: "nobody", want: []string{}},
		{part: "", kind: apperr.BadRequest},
		{part: strings.Repeat("x", 255), kind: apperr.BadRequest},
		{part: "a\x00b", kind: apperr.BadRequest},
		{part: "\xff\xfe", kind: apperr.BadRequest},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%.20q/%d", c.part, c.limit), func(t *testing.T) {
			got, err := store.CustomerIDsByEmail(ctx, c.part, c.limit)
			if c.kind != apperr.Internal {
				if apperr.KindOf(err) != c.kind || len(err.Error()) > 100 {
					t.Fatalf("err %v, want kind %d without the part", err, c.kind)
				}
				return
			}
			if err != nil || got == nil {
				t.Fatalf("%v %v", got, err)
			}
			if c.limit > 0 {
				if len(got) != c.limit {
					t.Fatalf("%d ids, want the cap %d", len(got), c.limit)
				}
				return
			}
			var emails []string
			for _, id := range got {
				emails = append(emails, ids[id])
			}
			slices.Sort(emails)
			want := slices.Clone(c.want)
			slices.Sort(want)
			if fmt.Sprint(emails) != fmt.Sprint(want) {
				t.Fatalf("matched %v, want %v", emails, want)
			}
		})
	}
}
