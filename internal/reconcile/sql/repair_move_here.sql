-- repair_move_here moves our active enrollment to the tier the CRM holds, because the
-- client lets the CRM win: same dates, the CRM's membership id, an 'upgraded' event (up
-- or down) of cause 'reconcile'. Nothing when the enrollment changed meanwhile.
WITH moved AS (
    UPDATE enrollments e
    SET tier_id = @crm_tier_id, crm_membership_id = nullif(@membership_id, ''), updated_at = now()
    WHERE e.id = @enrollment_id AND e.status = 'active' AND e.tier_id = @tier_id
      AND EXISTS (SELECT 1 FROM tiers t WHERE t.id = @crm_tier_id AND t.client_id = e.client_id)
    RETURNING e.id, e.customer_id, e.expires_at
), event AS (
    INSERT INTO enrollment_events (enrollment_id, event, old_tier_id, new_tier_id, old_expires_at, new_expires_at, cause, job_run_id)
    SELECT id, 'upgraded', @tier_id, @crm_tier_id, expires_at, expires_at, 'reconcile', @job_run_id FROM moved
), flags AS (
    UPDATE customers c
    SET is_club_member = true, current_tier_id = @crm_tier_id, updated_at = now()
    FROM moved
    WHERE c.id = moved.customer_id
)
SELECT count(*) FROM moved
