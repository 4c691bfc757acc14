-- set_rate gives @rate_key's bucket its rate: a new bucket starts full; an existing one
-- keeps its tokens and pause (its burst follows the new rate at the next read).
INSERT INTO crm_rate_buckets (rate_key, per_minute, tokens, refilled_at)
VALUES (@rate_key::text, @per_minute::int, crm_rate_burst(@per_minute::int), now())
ON CONFLICT (rate_key) DO UPDATE SET per_minute = EXCLUDED.per_minute
WHERE crm_rate_buckets.per_minute IS DISTINCT FROM EXCLUDED.per_minute
