-- The 20 newest rows that failed in the last 24 hours.
SELECT id, action_type, client_id, coalesce(error_message, ''), updated_at
FROM crm_sync_queue
WHERE status = 'failed'
  AND updated_at > now() - interval '24 hours'
ORDER BY updated_at DESC, id DESC
LIMIT 20
