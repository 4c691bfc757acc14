-- Reads and locks a client's tier before a change (the columns scanTier reads).
SELECT id, client_id, name, rank, duration_months, min_purchase_cents, min_ltv_cents,
       c7_club_id, c7_delivery_method, c7_pickup_location_id, shopify_tag, created_at
FROM tiers
WHERE id = @id AND client_id = @client_id
FOR UPDATE
