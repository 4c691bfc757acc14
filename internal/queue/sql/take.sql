-- take takes one token from @rate_key's bucket if it has one and is not paused. It
-- returns no row when the key has no bucket, else whether the token was granted and, if
-- not, how long until one is (ms). A low-priority take (@low: reconciliation's reads)
-- leaves half the burst in the bucket: live work arriving then finds tokens waiting,
-- while the reads still get the whole refill rate when nothing else asks.
WITH cur AS (
    SELECT b.rate_key,
           crm_rate_refill_per_sec(b.per_minute) AS per_sec,
           least(crm_rate_burst(b.per_minute),
                 b.tokens + greatest(0, extract(epoch FROM coalesce(@now::timestamptz, now()) - b.refilled_at))
                            * crm_rate_refill_per_sec(b.per_minute)) AS available,
           coalesce(b.paused_until > coalesce(@now::timestamptz, now()), false) AS paused,
           CASE WHEN @low::boolean THEN crm_rate_burst(b.per_minute) / 2 ELSE 0 END AS reserve,
           b.paused_until
    FROM crm_rate_buckets b
    WHERE b.rate_key = @rate_key
    FOR UPDATE OF b
), took AS (
    UPDATE crm_rate_buckets b
    SET tokens = cur.available - 1, refilled_at = coalesce(@now::timestamptz, now())
    FROM cur
    WHERE b.rate_key = cur.rate_key AND NOT cur.paused AND cur.available >= 1 + cur.reserve
    RETURNING b.rate_key
)
SELECT EXISTS (SELECT 1 FROM took),
       CASE WHEN cur.paused THEN ceil(extract(epoch FROM cur.paused_until - coalesce(@now::timestamptz, now())) * 1000)
            ELSE ceil((1 + cur.reserve - cur.available) / cur.per_sec * 1000) END::bigint
FROM cur
