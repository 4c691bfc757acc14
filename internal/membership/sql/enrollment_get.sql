-- One enrollment (its latest queue row comes from the queue package).
SELECT e.id, e.status, e.client_id, e.tier_id, e.customer_id, e.enrolled_at, e.expires_at, e.crm_membership_id
FROM enrollments e
WHERE e.id = @id
