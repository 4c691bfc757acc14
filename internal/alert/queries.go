package alert

const qLastDelivery = `SELECT delivered_at, last_failed_at FROM alert_deliveries WHERE kind = $1`

// qRecordDelivery remembers a delivery; the failed-rows mark only moves forward.
const qRecordDelivery = `
INSERT INTO alert_deliveries (kind, delivered_at, last_failed_at) VALUES ($1, $2, $3)
ON CONFLICT (kind) DO UPDATE SET
    delivered_at   = EXCLUDED.delivered_at,
    last_failed_at = coalesce(EXCLUDED.last_failed_at, alert_deliveries.last_failed_at)`

// qFailedSince counts failed rows newer than the last reported one, and all failed rows.
const qFailedSince = `
SELECT count(*) FILTER (WHERE $1::timestamptz IS NULL OR updated_at > $1),
       count(*),
       max(updated_at)
FROM crm_sync_queue WHERE status = 'failed'`

const qNewestFailed = `
SELECT id, action_type, coalesce(error_message, '')
FROM crm_sync_queue
WHERE status = 'failed' AND ($1::timestamptz IS NULL OR updated_at > $1)
ORDER BY updated_at DESC, id DESC
LIMIT 5`

const qOldestPending = `
SELECT min(created_at), count(*) FROM crm_sync_queue WHERE status = 'pending'`
