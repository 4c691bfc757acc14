-- The newest failed rows updated after @since (all when null), at most @limit: for an
-- alert's text and the dashboard.
SELECT id, action_type, client_id, coalesce(error_message, ''), updated_at
FROM crm_sync_queue
WHERE status = 'failed'
  AND (@since::timestamptz IS NULL OR updated_at > @since::timestamptz)
ORDER BY updated_at DESC, id DESC
LIMIT @limit
