-- Remembers a delivery; the failed-rows mark only moves forward.
INSERT INTO alert_deliveries (kind, delivered_at, last_failed_at)
VALUES (@kind, @delivered_at, @last_failed_at)
ON CONFLICT (kind) DO UPDATE
SET delivered_at   = EXCLUDED.delivered_at,
    last_failed_at = coalesce(EXCLUDED.last_failed_at, alert_deliveries.last_failed_at)
