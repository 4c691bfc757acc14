-- The customer's active enrollment (there is at most one).
SELECT id
FROM enrollments
WHERE customer_id = @customer_id
  AND status = 'active'
