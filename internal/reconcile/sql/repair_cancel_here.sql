-- repair_cancel_here ends our enrollment because the CRM no longer holds it and the client
-- lets the CRM win: no queue row (the CRM already has no membership), an event of cause
-- 'reconcile', and the customer's member flags cleared. Nothing when the enrollment is
-- no longer active.
WITH ended AS (
    UPDATE enrollments
    SET status = 'cancelled', ended_at = now(), updated_at = now()
    WHERE id = @enrollment_id AND status = 'active'
    RETURNING id, customer_id, tier_id, expires_at
), event AS (
    INSERT INTO enrollment_events (enrollment_id, event, old_tier_id, old_expires_at, cause, job_run_id)
    SELECT id, 'cancelled', tier_id, expires_at, 'reconcile', @job_run_id FROM ended
), flags AS (
    UPDATE customers c
    SET is_club_member = false, current_tier_id = NULL, updated_at = now()
    FROM ended
    WHERE c.id = ended.customer_id AND c.current_tier_id = ended.tier_id
)
SELECT count(*) FROM ended
