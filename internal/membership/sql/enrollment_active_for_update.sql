-- Reads and locks the customer's active enrollment, with its tier's rank.
SELECT e.id, e.tier_id, t.rank, e.expires_at
FROM enrollments e
JOIN tiers t ON t.id = e.tier_id
WHERE e.customer_id = @customer_id
  AND e.status = 'active'
FOR UPDATE OF e
