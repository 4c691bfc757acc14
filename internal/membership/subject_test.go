package membership_test

import (
	"context"
	"testing"
	"time"

	"tiersync/internal/testfactory"
)

// TestSubject reads what a queue row is about through the membership layer, as the admin
// page does: with and without an enrollment, and for a customer that is gone.
func TestSubject(t *testing.T) {
	t.Parallel()
	w := newExpireWorld(t)
	ctx := context.Background()
	customer, enrollment := w.enroll(t, w.gold, 365*24*time.Hour)
	const missing = "00000000-0000-0000-0000-000000000000"
	cases := []struct {
		name           string
		customer       string
		enrollment     *string
		wantFound      bool
		wantTier       string // "" when no enrollment part
		wantEnrollment string
	}{
		{"with enrollment", customer, &enrollment, true, "Gold", "active"},
		{"without enrollment", customer, nil, true, "", ""},
		{"unknown enrollment", customer, ptr(missing), true, "", ""},
		{"unknown customer", missing, nil, false, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sub, found, err := w.store.Subject(ctx, w.client, c.customer, c.enrollment)
			if err != nil {
				t.Fatal(err)
			}
			if found != c.wantFound {
				t.Fatalf("found = %v, want %v", found, c.wantFound)
			}
			if !found {
				return
			}
			if sub.ClientName != "N" || sub.CRMType != "commerce7" || sub.Email != "m1@example.com" || sub.CRMID == nil || *sub.CRMID != "crm-1" {
				t.Errorf("client and customer = %+v", sub)
			}
			if got := deref(sub.Tier); got != c.wantTier {
				t.Errorf("tier = %q, want %q", got, c.wantTier)
			}
			if got := deref(sub.EnrollmentStatus); got != c.wantEnrollment {
				t.Errorf("enrollment status = %q, want %q", got, c.wantEnrollment)
			}
			if (sub.EnrollmentExpires != nil) != (c.wantTier != "") {
				t.Errorf("expires = %v, want one only with the enrollment", sub.EnrollmentExpires)
			}
		})
	}
}

// TestClientsByName lists every client by name, then id, whatever order they were made in.
func TestClientsByName(t *testing.T) {
	t.Parallel()
	w := newExpireWorld(t) // makes client "N"
	ctx := context.Background()
	for _, name := range []string{"Zinfandel House", "Albariño Cellars"} {
		testfactory.Client(t, w.pool, testfactory.ClientOpts{Name: name})
	}
	clients, err := w.store.ClientsByName(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range clients {
		got = append(got, c.Name)
	}
	want := []string{"Albariño Cellars", "N", "Zinfandel House"}
	if len(got) != len(want) {
		t.Fatalf("clients = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("clients = %q, want %q", got, want)
		}
	}
}

func ptr(s string) *string { return &s }

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
