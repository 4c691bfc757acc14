package membership_test

import (
	"context"
	"testing"

	"tiersync/internal/db/dbtest"
	"tiersync/internal/membership"
)

// TestSyncSubjectCarriesPickupLocation: the syncer is handed a Pickup tier's location
// (Commerce7's pickupInventoryLocationId), for the tier joined and the tier left alike,
// and nothing for a Ship tier.
func TestSyncSubjectCarriesPickupLocation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	store := membership.NewStore(pool, nil)
	client, err := store.CreateClient(ctx, membership.NewClient{Name: "Napa", CRMType: membership.CRMCommerce7, Tenant: "napa"})
	if err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	pickup, err := store.CreateTier(ctx, client.ID, membership.NewTier{Name: "Pickup", Rank: 1, DurationMonths: 12,
		C7ClubID: str("c1ab0000-0000-4000-8000-000000000006"), C7DeliveryMethod: str(membership.DeliveryPickup), C7PickupLocationID: str(" loc-napa ")})
	if err != nil {
		t.Fatal(err)
	}
	if pickup.C7PickupLocationID == nil || *pickup.C7PickupLocationID != "loc-napa" {
		t.Fatalf("stored location %v, want loc-napa (trimmed)", pickup.C7PickupLocationID)
	}
	ship, err := store.CreateTier(ctx, client.ID, membership.NewTier{Name: "Ship", Rank: 2, DurationMonths: 12, C7ClubID: str("c1ab0000-0000-4000-8000-000000000007")})
	if err != nil {
		t.Fatal(err)
	}
	res, err := store.Enroll(ctx, membership.NewEnrollment{ClientID: client.ID, TierID: pickup.ID,
		Customer: &membership.NewCustomer{Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace"}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name          string
		tier          string
		oldTier       *string
		want, wantOld string
	}{
		{"joining a Pickup tier", pickup.ID, nil, "loc-napa", ""},
		{"moving from Pickup to Ship", ship.ID, &pickup.ID, "", "loc-napa"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sub, err := store.SyncSubject(ctx, membership.SyncRef{ClientID: client.ID, CustomerID: res.Enrollment.CustomerID,
				TierID: c.tier, OldTierID: c.oldTier, EnrollmentID: &res.Enrollment.ID})
			if err != nil {
				t.Fatal(err)
			}
			if sub.Tier.PickupLocationID != c.want {
				t.Errorf("tier location %q, want %q", sub.Tier.PickupLocationID, c.want)
			}
			if c.oldTier != nil && (sub.OldTier == nil || sub.OldTier.PickupLocationID != c.wantOld) {
				t.Errorf("old tier %+v, want location %q", sub.OldTier, c.wantOld)
			}
		})
	}
}
