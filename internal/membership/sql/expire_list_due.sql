-- The first @limit enrollments the next expiration run would expire.
SELECT enrollment_id, client_id, customer_id, tier_id, email, expires_at
FROM test_process_expired_enrollments()
LIMIT @limit
