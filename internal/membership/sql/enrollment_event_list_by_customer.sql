-- The history of a customer's enrollments, in order.
SELECT ev.enrollment_id, ev.event, ev.old_tier_id, ev.new_tier_id, ev.old_expires_at,
       ev.new_expires_at, ev.cause, ev.created_at
FROM enrollment_events ev
JOIN enrollments e ON e.id = ev.enrollment_id
WHERE e.customer_id = @customer_id AND e.client_id = @client_id
ORDER BY ev.id
