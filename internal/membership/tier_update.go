package membership

import (
	"context"
	_ "embed" // the statements below
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/apperr"
	"tiersync/internal/db"
)

var (
	//go:embed sql/tier_get_for_update.sql
	sqlTierGetForUpdate string
	//go:embed sql/tier_update.sql
	sqlTierUpdate string
	//go:embed sql/tier_live_memberships.sql
	sqlTierLiveMemberships string
)

// TierUpdate is the input of UpdateTier: nil leaves a field as it is.
type TierUpdate struct {
	Name               *string `json:"name"`
	Rank               *int    `json:"rank"`
	DurationMonths     *int    `json:"duration_months"`
	MinPurchaseCents   *int64  `json:"min_purchase_cents"`
	MinLTVCents        *int64  `json:"min_ltv_cents"`
	C7ClubID           *string `json:"c7_club_id"`
	C7DeliveryMethod   *string `json:"c7_delivery_method"`
	C7PickupLocationID *string `json:"c7_pickup_location_id"`
	ShopifyTag         *string `json:"shopify_tag"`
}

func (u TierUpdate) empty() bool {
	return u.Name == nil && u.Rank == nil && u.DurationMonths == nil && u.MinPurchaseCents == nil &&
		u.MinLTVCents == nil && u.C7ClubID == nil && u.C7DeliveryMethod == nil && u.C7PickupLocationID == nil &&
		u.ShopifyTag == nil
}

// merge applies the update to the tier as stored and returns the result as a NewTier, for
// the same validation as a created tier.
func (u TierUpdate) merge(t Tier) NewTier {
	in := NewTier{Name: t.Name, Rank: t.Rank, DurationMonths: t.DurationMonths,
		MinPurchaseCents: &t.MinPurchaseCents, MinLTVCents: &t.MinLTVCents,
		C7ClubID: t.C7ClubID, C7DeliveryMethod: t.C7DeliveryMethod, C7PickupLocationID: t.C7PickupLocationID,
		ShopifyTag: t.ShopifyTag, storedClubID: true}
	set := func(dst **string, v *string) {
		if v != nil {
			*dst = v
		}
	}
	if u.Name != nil {
		in.Name = *u.Name
	}
	if u.Rank != nil {
		in.Rank = *u.Rank
	}
	if u.DurationMonths != nil {
		in.DurationMonths = *u.DurationMonths
	}
	if u.MinPurchaseCents != nil {
		in.MinPurchaseCents = u.MinPurchaseCents
	}
	if u.MinLTVCents != nil {
		in.MinLTVCents = u.MinLTVCents
	}
	if u.C7ClubID != nil {
		in.C7ClubID, in.storedClubID = u.C7ClubID, false
	}
	set(&in.C7DeliveryMethod, u.C7DeliveryMethod)
	set(&in.C7PickupLocationID, u.C7PickupLocationID)
	set(&in.ShopifyTag, u.ShopifyTag)
	// A tier switched to Ship has no pickup location: dropping it is what the change
	// means, and JSON cannot tell an absent location from a null one.
	if u.C7DeliveryMethod != nil && *u.C7DeliveryMethod == DeliveryShip && u.C7PickupLocationID == nil {
		in.C7PickupLocationID = nil
	}
	return in
}

func sameText(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// UpdateTier changes a client's tier: its name, rank, duration, amounts and CRM mapping,
// validated as CreateTier validates a new tier (the whole tier as it would be after the
// change), in one transaction with the tier locked; nothing is written on an error. A
// rank, club or tag another tier of the client has is a 409. Changing the club or tag while
// the CRM may hold memberships under the old one (active Commerce7 enrollments with a
// membership id; any active Shopify enrollment) is a 409 as well: their cancels and
// upgrades would look in the new club and leave the old memberships live. A new duration
// applies to enrollments and renewals from now on; existing expires_at stay as they are.
func (s *Store) UpdateTier(ctx context.Context, clientID, tierID string, u TierUpdate) (Tier, error) {
	if err := CheckUUID("tier id", tierID); err != nil {
		return Tier{}, err
	}
	c, err := s.GetClient(ctx, clientID)
	if err != nil {
		return Tier{}, err
	}
	if u.empty() {
		return Tier{}, apperr.BadRequestf("nothing to change: send name, rank, duration_months, min_purchase_cents, " +
			"min_ltv_cents, c7_club_id, c7_delivery_method, c7_pickup_location_id or shopify_tag")
	}
	var out Tier
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sqlTierGetForUpdate, pgx.StrictNamedArgs{"id": tierID, "client_id": c.ID})
		if err != nil {
			return fmt.Errorf("update tier %s: read: %w", tierID, err)
		}
		cur, err := pgx.CollectExactlyOneRow(rows, scanTier)
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.NotFoundf("tier %s of client %s not found", tierID, c.ID)
		}
		if err != nil {
			return fmt.Errorf("update tier %s: read: %w", tierID, err)
		}
		in := u.merge(cur)
		if err := in.validate(c.CRMType); err != nil {
			return err
		}
		if !sameText(in.C7ClubID, cur.C7ClubID) || !sameText(in.ShopifyTag, cur.ShopifyTag) {
			var live int64
			if err := tx.QueryRow(ctx, sqlTierLiveMemberships, pgx.StrictNamedArgs{"tier_id": tierID, "crm_type": c.CRMType}).Scan(&live); err != nil {
				return fmt.Errorf("update tier %s: count memberships: %w", tierID, err)
			}
			if live > 0 {
				return apperr.Conflictf("tier %s has %d active members whose CRM membership is under its current club or tag; "+
					"a new mapping would leave those memberships behind: make a new tier instead", tierID, live).
					With("active_enrollments", live)
			}
		}
		rows, err = tx.Query(ctx, sqlTierUpdate, pgx.StrictNamedArgs{
			"id": tierID, "client_id": c.ID, "name": in.Name, "rank": in.Rank, "duration_months": in.DurationMonths,
			"min_purchase_cents": *in.MinPurchaseCents, "min_ltv_cents": *in.MinLTVCents,
			"c7_club_id": in.C7ClubID, "c7_delivery_method": in.C7DeliveryMethod,
			"c7_pickup_location_id": in.C7PickupLocationID, "shopify_tag": in.ShopifyTag,
		})
		if err == nil {
			out, err = pgx.CollectExactlyOneRow(rows, scanTier)
		}
		if conflict := tierConflict(err, in); conflict != nil {
			return conflict
		}
		if err != nil {
			return fmt.Errorf("update tier %s: %w", tierID, err)
		}
		return nil
	})
	if err != nil {
		return Tier{}, err
	}
	return out, nil
}
