-- Recomputes lifetime value: the sum of the customer's paid sales and of its refunds
-- (negative totals), leaving out voided orders (cancelled or deleted in the CRM) and the
-- refunds of voided orders (their payment is already gone from the sum), never below 0.
-- sum() of a bigint is a numeric, so the sum itself cannot overflow; it saturates at the
-- bigint maximum instead of failing the order with "bigint out of range" (each order is
-- capped at MaxOrderCents, so only rows written around the application could get there).
UPDATE customers
SET lifetime_value_cents = (
        SELECT greatest(least(coalesce(sum(o.total_cents), 0), 9223372036854775807), 0)::bigint
        FROM orders o
        WHERE o.customer_id = @id
          AND o.voided_at IS NULL
          AND (o.paid_at IS NOT NULL OR o.kind = 'refund')
          AND NOT EXISTS (SELECT 1
                          FROM orders v
                          WHERE o.kind = 'refund'
                            AND v.client_id = o.client_id
                            AND v.crm_order_id = o.refund_of
                            AND v.voided_at IS NOT NULL)),
    updated_at = now()
WHERE id = @id
RETURNING lifetime_value_cents
