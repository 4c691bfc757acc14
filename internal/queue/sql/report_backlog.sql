-- Each client's open queue rows: pending (and of those, due now), processing, failed.
-- Clients without open rows have no line; the dashboard shows them with zeros.
SELECT client_id,
       count(*) FILTER (WHERE status = 'pending'),
       count(*) FILTER (WHERE status = 'pending' AND next_retry_at <= now()),
       count(*) FILTER (WHERE status = 'processing'),
       count(*) FILTER (WHERE status = 'failed')
FROM crm_sync_queue
WHERE status IN ('pending', 'processing', 'failed')
GROUP BY client_id
