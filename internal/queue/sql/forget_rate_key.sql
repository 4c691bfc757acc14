-- forget_rate_key deletes every row of @rate_key (their attempts by cascade) and its
-- bucket, and counts the rows.
WITH items AS (
    DELETE FROM crm_sync_queue q WHERE q.rate_key = @rate_key RETURNING q.id
), bucket AS (
    DELETE FROM crm_rate_buckets b WHERE b.rate_key = @rate_key RETURNING b.rate_key
)
SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM bucket)
