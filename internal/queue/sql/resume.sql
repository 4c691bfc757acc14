-- resume ends @rate_key's pause and makes its waiting pending rows due now: what stopped
-- the key (an uninstalled app, a credential that failed) has been put right, so its rows
-- need not sit out the rest of their wait. A row waiting out a backoff goes early too, one
-- attempt sooner than it would have: the price of not telling the waits apart.
WITH bucket AS (
    UPDATE crm_rate_buckets
    SET paused_until = NULL,
        refilled_at  = least(refilled_at, coalesce(@now::timestamptz, now()))
    WHERE rate_key = @rate_key
)
UPDATE crm_sync_queue
SET next_retry_at = coalesce(@now::timestamptz, now()),
    updated_at    = coalesce(@now::timestamptz, now())
WHERE rate_key = @rate_key
  AND status = 'pending'
  AND next_retry_at > coalesce(@now::timestamptz, now())
