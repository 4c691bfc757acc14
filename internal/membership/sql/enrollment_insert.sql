-- Computes expires_at in SQL, in UTC: 31 January + 1 month is 28 (or 29) February, where
-- Go's AddDate would say 3 March. enrolled_at defaults to now.
INSERT INTO enrollments (client_id, customer_id, tier_id, enrolled_at, expires_at, source)
SELECT @client_id, @customer_id, @tier_id, t.at,
       ((t.at AT TIME ZONE 'UTC') + make_interval(months => @duration_months)) AT TIME ZONE 'UTC',
       @source
FROM (SELECT coalesce(@enrolled_at::timestamptz, now()) AS at) t
RETURNING id, status, client_id, tier_id, customer_id, enrolled_at, expires_at, crm_membership_id
