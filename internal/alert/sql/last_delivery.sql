-- When an alert of this kind last went out, and the newest failed row it reported.
SELECT delivered_at, last_failed_at
FROM alert_deliveries
WHERE kind = @kind
