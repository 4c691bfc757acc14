-- Failed queue rows newer than the last one reported (all of them when @since is null),
-- all failed rows, and the newest one's time.
SELECT count(*) FILTER (WHERE @since::timestamptz IS NULL OR updated_at > @since::timestamptz),
       count(*),
       max(updated_at)
FROM crm_sync_queue
WHERE status = 'failed'
