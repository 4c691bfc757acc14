-- The five newest failed rows since the last one reported, for the alert's text.
SELECT id, action_type, coalesce(error_message, '')
FROM crm_sync_queue
WHERE status = 'failed'
  AND (@since::timestamptz IS NULL OR updated_at > @since::timestamptz)
ORDER BY updated_at DESC, id DESC
LIMIT 5
