-- Records an order by its CRM id; an update (Commerce7 Update, Shopify orders/paid after
-- orders/create) replaces the total and keeps the first paid time.
INSERT INTO orders (client_id, crm_order_id, customer_id, total_cents, currency, paid_at)
VALUES (@client_id, @crm_order_id, @customer_id, @total_cents, @currency, @paid_at)
ON CONFLICT (client_id, crm_order_id) DO UPDATE
SET total_cents = EXCLUDED.total_cents,
    currency    = coalesce(EXCLUDED.currency, orders.currency),
    paid_at     = coalesce(orders.paid_at, EXCLUDED.paid_at),
    updated_at  = now()
RETURNING id
