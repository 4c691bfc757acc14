-- attempts is one row's attempt history, oldest first.
SELECT id, attempt, worker, started_at, finished_at, outcome, http_status, error
FROM crm_sync_attempts
WHERE queue_id = @id
ORDER BY id
