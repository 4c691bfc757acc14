-- A customer's enrollments, oldest first, with their tier's name.
SELECT e.id, e.status, e.tier_id, t.name, e.enrolled_at, e.expires_at, e.ended_at,
       e.crm_membership_id, e.source
FROM enrollments e
JOIN tiers t ON t.id = e.tier_id
WHERE e.customer_id = @customer_id AND e.client_id = @client_id
ORDER BY e.enrolled_at, e.id
