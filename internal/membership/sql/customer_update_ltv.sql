-- Recomputes lifetime value as the sum of the customer's paid orders. sum() of a bigint
-- is a numeric, so the sum itself cannot overflow; it saturates at the bigint maximum
-- instead of failing the order with "bigint out of range" (each order is capped at
-- MaxOrderCents, so only rows written around the application could get there).
UPDATE customers
SET lifetime_value_cents = (
        SELECT least(coalesce(sum(total_cents), 0), 9223372036854775807)::bigint
        FROM orders
        WHERE customer_id = @id
          AND paid_at IS NOT NULL),
    updated_at = now()
WHERE id = @id
RETURNING lifetime_value_cents
