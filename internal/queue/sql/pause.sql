-- pause empties @rate_key's bucket until @pause_ms from now: the CRM said "too many
-- requests". An existing longer pause is kept.
UPDATE crm_rate_buckets b
SET tokens       = 0,
    paused_until = greatest(b.paused_until, coalesce(@now::timestamptz, now()) + @pause_ms * interval '1 millisecond'),
    refilled_at  = greatest(b.paused_until, coalesce(@now::timestamptz, now()) + @pause_ms * interval '1 millisecond')
WHERE b.rate_key = @rate_key
