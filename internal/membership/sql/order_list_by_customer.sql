-- A customer's orders, oldest first.
SELECT crm_order_id, kind, total_cents, currency, paid_at, voided_at, created_at
FROM orders
WHERE customer_id = @customer_id AND client_id = @client_id
ORDER BY created_at, id
