-- enrollment_active locks an enrollment that is still active, with its customer's CRM id,
-- before a repair is queued for it.
SELECT c.crm_id
FROM enrollments e
JOIN customers c ON c.id = e.customer_id
WHERE e.id = @enrollment_id AND e.status = 'active' AND e.tier_id = @tier_id
FOR UPDATE OF e
