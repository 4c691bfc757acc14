-- repair_enroll_here makes an enrollment (source 'reconcile') of the tier the CRM holds,
-- from now for the tier's duration, for a customer with no active enrollment, because
-- the client lets the CRM win. Nothing when the customer has an active one by now.
WITH tier AS (
    SELECT id, duration_months FROM tiers WHERE id = @tier_id AND client_id = @client_id
), made AS (
    INSERT INTO enrollments (client_id, customer_id, tier_id, enrolled_at, expires_at, source, crm_membership_id)
    SELECT @client_id, @customer_id, tier.id, now(),
           ((now() AT TIME ZONE 'UTC') + make_interval(months => tier.duration_months)) AT TIME ZONE 'UTC',
           'reconcile', nullif(@membership_id, '')
    FROM tier
    ON CONFLICT (customer_id) WHERE status = 'active' DO NOTHING
    RETURNING id, customer_id, tier_id, expires_at
), event AS (
    INSERT INTO enrollment_events (enrollment_id, event, new_tier_id, new_expires_at, cause, job_run_id)
    SELECT id, 'enrolled', tier_id, expires_at, 'reconcile', @job_run_id FROM made
), flags AS (
    UPDATE customers c
    SET is_club_member = true, current_tier_id = made.tier_id, updated_at = now()
    FROM made
    WHERE c.id = made.customer_id
)
SELECT id::text FROM made
