-- The newest row of an enrollment (its id and status), if it has any.
SELECT id, status
FROM crm_sync_queue
WHERE enrollment_id = @enrollment_id
ORDER BY id DESC
LIMIT 1
