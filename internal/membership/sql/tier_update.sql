-- Writes every changeable column of a tier (the caller merged the change into the row it
-- read and validated the result as a new tier).
UPDATE tiers
SET name                  = @name,
    rank                  = @rank,
    duration_months       = @duration_months,
    min_purchase_cents    = @min_purchase_cents,
    min_ltv_cents         = @min_ltv_cents,
    c7_club_id            = @c7_club_id,
    c7_delivery_method    = @c7_delivery_method,
    c7_pickup_location_id = @c7_pickup_location_id,
    shopify_tag           = @shopify_tag,
    updated_at            = now()
WHERE id = @id AND client_id = @client_id
RETURNING id, client_id, name, rank, duration_months, min_purchase_cents, min_ltv_cents,
          c7_club_id, c7_delivery_method, c7_pickup_location_id, shopify_tag, created_at
