-- counts counts rows by status and action and, for the pending groups, the age in seconds
-- of their oldest row (@now is the injected clock, NULL for now()).
SELECT status, action_type, count(*),
       coalesce(extract(epoch FROM coalesce(@now::timestamptz, now())
                                   - min(created_at) FILTER (WHERE status = 'pending')), 0)::bigint
FROM crm_sync_queue
GROUP BY status, action_type
