-- One page of a client's tiers by rank; the cursor is the previous page's last rank, or
-- null for the first page.
SELECT id, client_id, name, rank, duration_months, min_purchase_cents, min_ltv_cents,
       c7_club_id, c7_delivery_method, c7_pickup_location_id, shopify_tag, created_at
FROM tiers
WHERE client_id = @client_id
  AND (@after_rank::int IS NULL OR rank > @after_rank::int)
ORDER BY rank
LIMIT @limit
