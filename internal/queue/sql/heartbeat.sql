-- heartbeat extends the leases this worker still holds; a row missing from the answer was
-- taken from it (its lease lapsed and the rescuer handed it on), so its handler is stopped.
UPDATE crm_sync_queue q
SET locked_until = coalesce(@now::timestamptz, now()) + @lease_ms * interval '1 millisecond'
FROM unnest(@ids::bigint[], @attempts::int[]) AS mine(id, attempts)
WHERE q.id = mine.id AND q.attempts = mine.attempts AND q.locked_by = @worker AND q.status = 'processing'
RETURNING q.id
