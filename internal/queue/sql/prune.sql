-- prune deletes one batch of finished rows past retention (their attempts go by cascade).
-- created_at < @cutoff narrows the scan through the (status, created_at) index; updated_at
-- is the real test (a row is kept for the retention period after it finished).
WITH doomed AS (
    SELECT id FROM crm_sync_queue
    WHERE status IN ('completed', 'cancelled') AND created_at < @cutoff AND updated_at < @cutoff
    LIMIT @limit
    FOR UPDATE SKIP LOCKED
)
DELETE FROM crm_sync_queue q USING doomed WHERE q.id = doomed.id
