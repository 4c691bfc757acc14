-- scrub_errors replaces each of @needles (in any case) by "[redacted]" in the error texts
-- of the rows of @order_keys and of their attempts, and counts the texts it changed. The
-- rows keep their status, times and counts: only the words go.
WITH mine AS (
    SELECT q.id FROM crm_sync_queue q WHERE q.order_key = ANY (@order_keys::text[])
), items AS (
    UPDATE crm_sync_queue q
    SET error_message = scrub_text(q.error_message, @needles::text[])
    FROM mine
    WHERE q.id = mine.id
      AND q.error_message IS DISTINCT FROM scrub_text(q.error_message, @needles::text[])
    RETURNING q.id
), attempts AS (
    UPDATE crm_sync_attempts a
    SET error = scrub_text(a.error, @needles::text[])
    FROM mine
    WHERE a.queue_id = mine.id
      AND a.error IS DISTINCT FROM scrub_text(a.error, @needles::text[])
    RETURNING a.id
)
SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM attempts)
