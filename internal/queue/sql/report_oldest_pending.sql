-- When the oldest pending row was made, and how many rows are pending.
SELECT min(created_at), count(*)
FROM crm_sync_queue
WHERE status = 'pending'
