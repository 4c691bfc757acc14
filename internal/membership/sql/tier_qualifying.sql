-- The highest tier an order of @order_cents, or a lifetime value of @ltv_cents, reaches;
-- a 0 threshold means "not by this measure".
SELECT id, rank, duration_months
FROM tiers
WHERE client_id = @client_id
  AND ((min_purchase_cents > 0 AND min_purchase_cents <= @order_cents)
    OR (min_ltv_cents > 0 AND min_ltv_cents <= @ltv_cents))
ORDER BY rank DESC
LIMIT 1
