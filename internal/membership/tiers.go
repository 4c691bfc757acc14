package membership

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/apperr"
	"tiersync/internal/db"
)

// Commerce7 delivery methods of a club membership.
const (
	DeliveryShip   = "Ship"
	DeliveryPickup = "Pickup"
)

// Tier is one level of a client's club.
type Tier struct {
	ID               string  `json:"id"`
	ClientID         string  `json:"client_id"`
	Name             string  `json:"name"`
	Rank             int     `json:"rank"`
	DurationMonths   int     `json:"duration_months"`
	MinPurchaseCents int64   `json:"min_purchase_cents"`
	MinLTVCents      int64   `json:"min_ltv_cents"`
	C7ClubID         *string `json:"c7_club_id"`
	C7DeliveryMethod *string `json:"c7_delivery_method"`
	// C7PickupLocationID is where a Pickup tier's members pick up (null for Ship and
	// Shopify tiers).
	C7PickupLocationID *string   `json:"c7_pickup_location_id"`
	ShopifyTag         *string   `json:"shopify_tag"`
	CreatedAt          time.Time `json:"created_at"`
}

// NewTier is the input of CreateTier; nil means absent.
type NewTier struct {
	Name               string
	Rank               int
	DurationMonths     int
	MinPurchaseCents   *int64
	MinLTVCents        *int64
	C7ClubID           *string
	C7DeliveryMethod   *string
	C7PickupLocationID *string
	ShopifyTag         *string

	// storedClubID: C7ClubID is the tier's stored club id, kept by an update that does
	// not change it; a club id made before the UUID rule is left as it is.
	storedClubID bool
}

const (
	maxDurationMonths = 1200
	maxRank           = 1_000_000
)

// validate checks the tier against its client's CRM and fills in defaults.
func (in *NewTier) validate(crmType string) error {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" {
		return apperr.BadRequestf("name is required")
	}
	if err := checkText("name", in.Name, MaxNameChars); err != nil {
		return err
	}
	// rank is an integer column: a Go int beyond it would be a database error.
	if in.Rank < 0 || in.Rank > maxRank {
		return apperr.Invalidf("rank must be between 0 and %d, got %d", maxRank, in.Rank)
	}
	if in.DurationMonths <= 0 || in.DurationMonths > maxDurationMonths {
		return apperr.Invalidf("duration_months must be between 1 and %d, got %d", maxDurationMonths, in.DurationMonths)
	}
	for _, a := range []struct {
		name string
		v    *int64
	}{{"min_purchase_cents", in.MinPurchaseCents}, {"min_ltv_cents", in.MinLTVCents}} {
		if a.v != nil && *a.v < 0 {
			return apperr.Invalidf("%s must not be negative, got %d", a.name, *a.v)
		}
	}
	trim := func(p *string) *string {
		if p == nil {
			return nil
		}
		v := strings.TrimSpace(*p)
		return &v
	}
	in.C7ClubID, in.C7DeliveryMethod, in.ShopifyTag = trim(in.C7ClubID), trim(in.C7DeliveryMethod), trim(in.ShopifyTag)
	in.C7PickupLocationID = trim(in.C7PickupLocationID)
	switch crmType {
	case CRMCommerce7:
		if in.ShopifyTag != nil {
			return apperr.Invalidf("shopify_tag does not fit a commerce7 client: use c7_club_id")
		}
		if in.C7ClubID == nil || *in.C7ClubID == "" {
			return apperr.Invalidf("a commerce7 tier needs c7_club_id (each tier is its own Commerce7 club)")
		}
		if err := CheckCRMID("c7_club_id", *in.C7ClubID); err != nil {
			return err
		}
		if !in.storedClubID {
			// Commerce7's ids are UUIDs; a placeholder ("club-gold") would be accepted here
			// and fail every membership at the CRM. Lower-case, as Commerce7 sends them in
			// webhooks, which find the tier by exact club id.
			if !uuidRe.MatchString(*in.C7ClubID) {
				return apperr.Invalidf("c7_club_id %q is not a Commerce7 club id: Commerce7 ids are UUIDs such as "+
					"3f2c8a4e-1b7d-4e9a-9c61-2d5e8f0a7b13 (the id in the club's page address in Commerce7's admin, "+
					"or the id that GET /club answers)", *in.C7ClubID)
			}
			lower := strings.ToLower(*in.C7ClubID)
			in.C7ClubID = &lower
		}
		if in.C7DeliveryMethod == nil {
			d := DeliveryShip
			in.C7DeliveryMethod = &d
		}
		if m := *in.C7DeliveryMethod; m != DeliveryShip && m != DeliveryPickup {
			return apperr.Invalidf("c7_delivery_method %q is not one of Ship, Pickup", m)
		}
		// Commerce7 needs to know where a Pickup member picks up (pickupInventoryLocationId);
		// without it the membership would fail at the CRM on every enrollment.
		loc := in.C7PickupLocationID
		switch {
		case *in.C7DeliveryMethod == DeliveryPickup && (loc == nil || *loc == ""):
			return apperr.Invalidf("a Pickup tier needs c7_pickup_location_id (the Commerce7 inventory location where members pick up)")
		case *in.C7DeliveryMethod == DeliveryShip && loc != nil:
			return apperr.Invalidf("c7_pickup_location_id is only for Pickup tiers; a Ship tier ships to the customer's address")
		}
		if loc != nil {
			if err := CheckCRMID("c7_pickup_location_id", *loc); err != nil {
				return err
			}
		}
	case CRMShopify:
		if in.C7ClubID != nil || in.C7DeliveryMethod != nil || in.C7PickupLocationID != nil {
			return apperr.Invalidf("c7_club_id, c7_delivery_method and c7_pickup_location_id do not fit a shopify client: use shopify_tag")
		}
		if in.ShopifyTag == nil || *in.ShopifyTag == "" {
			return apperr.Invalidf("a shopify tier needs shopify_tag (the customer tag that marks its members)")
		}
		// Shopify splits tags on commas and caps them at 255 characters.
		if err := checkText("shopify_tag", *in.ShopifyTag, MaxTagChars); err != nil {
			return err
		}
		if strings.Contains(*in.ShopifyTag, ",") {
			return apperr.Invalidf("shopify_tag must be at most %d characters without commas", MaxTagChars)
		}
	}
	return nil
}

// CreateTier adds a tier to a client.
func (s *Store) CreateTier(ctx context.Context, clientID string, in NewTier) (Tier, error) {
	c, err := s.GetClient(ctx, clientID)
	if err != nil {
		return Tier{}, err
	}
	if err := in.validate(c.CRMType); err != nil {
		return Tier{}, err
	}
	zero := int64(0)
	if in.MinPurchaseCents == nil {
		in.MinPurchaseCents = &zero
	}
	if in.MinLTVCents == nil {
		in.MinLTVCents = &zero
	}
	rows, err := s.pool.Query(ctx, sqlTierInsert, pgx.StrictNamedArgs{
		"client_id": c.ID, "crm_type": c.CRMType, "name": in.Name, "rank": in.Rank, "duration_months": in.DurationMonths,
		"min_purchase_cents": *in.MinPurchaseCents, "min_ltv_cents": *in.MinLTVCents,
		"c7_club_id": in.C7ClubID, "c7_delivery_method": in.C7DeliveryMethod, "c7_pickup_location_id": in.C7PickupLocationID,
		"shopify_tag": in.ShopifyTag,
	})
	if err == nil {
		var t Tier
		t, err = pgx.CollectExactlyOneRow(rows, scanTier)
		if err == nil {
			return t, nil
		}
	}
	if conflict := tierConflict(err, in); conflict != nil {
		return Tier{}, conflict
	}
	if _, ok := db.ForeignKeyViolation(err); ok {
		// The client was deleted between the read and the insert.
		return Tier{}, apperr.NotFoundf("client %s not found", clientID)
	}
	return Tier{}, fmt.Errorf("create tier: %w", err)
}

// tierConflict turns a unique violation of a tier's rank, club or tag into a 409 naming
// the value; nil for any other error.
func tierConflict(err error, in NewTier) error {
	name, ok := db.UniqueViolation(err)
	if !ok {
		return nil
	}
	switch name {
	case "tiers_client_rank_key":
		return apperr.Conflictf("client already has a tier with rank %d", in.Rank)
	case "tiers_client_c7_club_key":
		return apperr.Conflictf("client already has a tier for Commerce7 club %s", *in.C7ClubID)
	case "tiers_client_shopify_tag_key":
		return apperr.Conflictf("client already has a tier with shopify_tag %q", *in.ShopifyTag)
	}
	return nil
}

// ListTiers returns one page of a client's tiers by rank, and the next page's cursor.
func (s *Store) ListTiers(ctx context.Context, clientID string, p Page) ([]Tier, string, error) {
	if _, err := s.GetClient(ctx, clientID); err != nil {
		return nil, "", err
	}
	var afterRank *int
	if p.Cursor != "" {
		var r int
		if err := decodeCursor(p.Cursor, &r); err != nil {
			return nil, "", err
		}
		if r < 0 || r > maxRank {
			return nil, "", apperr.BadRequestf("cursor %q is not one this API returned", clip(p.Cursor, 120))
		}
		afterRank = &r
	}
	rows, err := s.pool.Query(ctx, sqlTierList, pgx.StrictNamedArgs{"client_id": clientID, "after_rank": afterRank, "limit": p.Limit + 1})
	if err != nil {
		return nil, "", fmt.Errorf("list tiers: %w", err)
	}
	tiers, err := pgx.CollectRows(rows, scanTier)
	if err != nil {
		return nil, "", fmt.Errorf("list tiers: %w", err)
	}
	next := ""
	if len(tiers) > p.Limit {
		tiers = tiers[:p.Limit]
		next = encodeCursor(tiers[len(tiers)-1].Rank)
	}
	return tiers, next, nil
}

func scanTier(row pgx.CollectableRow) (Tier, error) {
	var t Tier
	err := row.Scan(&t.ID, &t.ClientID, &t.Name, &t.Rank, &t.DurationMonths, &t.MinPurchaseCents, &t.MinLTVCents,
		&t.C7ClubID, &t.C7DeliveryMethod, &t.C7PickupLocationID, &t.ShopifyTag, &t.CreatedAt)
	t.CreatedAt = t.CreatedAt.UTC()
	return t, err
}
