-- How many enrollments the next expiration run would expire.
SELECT count(*)
FROM test_process_expired_enrollments()
