-- An enrollment an order qualified for, from the time it was paid (expires_at in UTC, as
-- in enrollment_insert.sql).
INSERT INTO enrollments (client_id, customer_id, tier_id, enrolled_at, expires_at, source, qualifying_order_id)
VALUES (@client_id, @customer_id, @tier_id, @paid_at,
        ((@paid_at::timestamptz AT TIME ZONE 'UTC') + make_interval(months => @duration_months)) AT TIME ZONE 'UTC',
        'order', @order_id)
RETURNING id, status, client_id, tier_id, customer_id, enrolled_at, expires_at, crm_membership_id
