-- An enrollment for a membership made in the CRM, from its signup date (never later than
-- now), with the tier's duration (expires_at in UTC, as in enrollment_insert.sql) and
-- the CRM's membership id. No row when the membership would already be over by our
-- rules: a signup that old makes nothing.
INSERT INTO enrollments (client_id, customer_id, tier_id, enrolled_at, expires_at, source, crm_membership_id)
SELECT @client_id, @customer_id, @tier_id, s.at, s.expires, 'crm', @crm_membership_id
FROM (SELECT t.at, ((t.at AT TIME ZONE 'UTC') + make_interval(months => @duration_months)) AT TIME ZONE 'UTC' AS expires
      FROM (SELECT least(coalesce(@signup_date::timestamptz, now()), now()) AS at) t) s
WHERE s.expires > now()
RETURNING id, status, client_id, tier_id, customer_id, enrolled_at, expires_at, crm_membership_id
