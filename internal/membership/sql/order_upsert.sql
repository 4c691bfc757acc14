-- Records an order by its CRM id; an update (Commerce7 Update, Shopify orders/paid after
-- orders/create) replaces the total and keeps the first paid time. A refund (@kind
-- 'refund') is an order of its own with a negative total. An order that changes kind
-- (a sale redelivered as a refund) is refused: no row comes back. voided says the order
-- was cancelled or deleted before: it counts for nothing, whatever this update says.
INSERT INTO orders (client_id, crm_order_id, customer_id, total_cents, currency, paid_at, kind, refund_of)
VALUES (@client_id, @crm_order_id, @customer_id, @total_cents, @currency, @paid_at, @kind, @refund_of)
ON CONFLICT (client_id, crm_order_id) DO UPDATE
SET total_cents = EXCLUDED.total_cents,
    currency    = coalesce(EXCLUDED.currency, orders.currency),
    paid_at     = coalesce(orders.paid_at, EXCLUDED.paid_at),
    refund_of   = coalesce(EXCLUDED.refund_of, orders.refund_of),
    updated_at  = now()
WHERE orders.kind = EXCLUDED.kind
RETURNING id, voided_at IS NOT NULL
