-- A client's rate limit; the clients_rate_bucket trigger carries it to the rate bucket.
UPDATE clients
SET rate_limit_per_minute = @rate_limit_per_minute, updated_at = now()
WHERE id = @id
