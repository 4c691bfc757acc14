-- One expiration batch: the SQL function of migration 00003, one transaction.
SELECT expired, queued
FROM process_expired_enrollments(@batch_size, @run_id)
