-- The fair claim's lanes (issue 23). The claim used to rank every rate key's bucket and
-- probe every key's pending rows on every statement, so its cost grew with the number of
-- wineries (50 000 rows: 9 705 jobs/s for one winery, 488 for 1 000). A lane is one rate
-- key's rows of one priority; crm_queue_lanes keeps, per lane, when it may next have a row
-- to claim (due_at). The claim walks the lanes that are due and probes only those: its
-- cost follows the rows it takes, and a lane with nothing to do costs nothing.
--
-- due_at: '-infinity' = ready, rows to claim now (the ready index); a time = nothing
--   claimable before it (a backoff, an empty bucket, a pause): the claim wakes the lane
--   then and serves it before the ready ones; 'infinity' = nothing to do until a row is
--   written.
-- version: counts the writes that made the lane due earlier, so that a claim that read
--   the lane (or its bucket) before such a write does not put the lane back to sleep.
--
-- The round-robin is the walk itself: each claimer walks the ready lanes in (priority
-- DESC, rate_key) order from where its last claim stopped, wrapping around, so a lane is
-- served once a lap and the claim writes nothing to the lanes it serves (a "last served"
-- time a lane was measured at 0.7 ms a 48-lane claim: a non-HOT update per lane).
--
-- Who keeps due_at right: every statement that makes a row pending, or finishes a row
-- whose order key has a row waiting behind it, moves the lane's due_at earlier (triggers
-- below, so that no writer can forget it: not the engine, not an operator's SQL); only a
-- claim moves it later, and only under the protocol in crm_queue_lanes_retract.
-- +goose Up
CREATE TABLE crm_queue_lanes (
    rate_key text        NOT NULL,
    priority smallint    NOT NULL,
    due_at   timestamptz NOT NULL,
    version  bigint      NOT NULL DEFAULT 0,
    CONSTRAINT crm_queue_lanes_pkey PRIMARY KEY (rate_key, priority)
);
-- The claim's walk: ready lanes in walk order. Lanes that wait or are idle are not in it,
-- so a deployment of thousands of idle wineries polls an empty index.
CREATE INDEX crm_queue_lanes_ready_idx ON crm_queue_lanes (priority DESC, rate_key)
    WHERE due_at = '-infinity';
-- The claim's wake-up: waiting lanes by the time their wait ends.
CREATE INDEX crm_queue_lanes_waiting_idx ON crm_queue_lanes (due_at)
    WHERE due_at > '-infinity' AND due_at < 'infinity';

-- +goose StatementBegin
-- crm_queue_lanes_touch makes each lane (keys[i], prios[i]) due at dues[i] or earlier. A
-- lane already due by then is only held, FOR KEY SHARE, until this transaction ends:
-- writers do not wait for one another nor for a claim serving the lane (FOR NO KEY
-- UPDATE), but a claim putting the lane to sleep (FOR UPDATE) cannot while this
-- transaction's rows are unseen. A lane due later is moved earlier; a missing one is made.
CREATE FUNCTION crm_queue_lanes_touch(keys text[], prios smallint[], dues timestamptz[]) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    k record;
BEGIN
    -- One order (key, priority) for every writer, so two writers never wait on each
    -- other's lanes in a cycle. A lane due already goes straight to the ready index
    -- ('-infinity'). now() is the database's clock, not the engine's (which tests move): a
    -- lane made ready too soon is only probed, found empty and put back to sleep.
    FOR k IN SELECT t.rate_key, t.priority, t.due,
                    CASE WHEN t.due <= now() THEN '-infinity' ELSE t.due END AS ready
             FROM unnest(keys, prios, dues) AS t(rate_key, priority, due) ORDER BY 1, 2 LOOP
        LOOP
            PERFORM FROM crm_queue_lanes l
            WHERE l.rate_key = k.rate_key AND l.priority = k.priority AND l.due_at <= k.due
            FOR KEY SHARE;
            EXIT WHEN FOUND;
            UPDATE crm_queue_lanes l SET due_at = k.ready, version = l.version + 1
            WHERE l.rate_key = k.rate_key AND l.priority = k.priority AND l.due_at > k.due;
            EXIT WHEN FOUND;
            INSERT INTO crm_queue_lanes (rate_key, priority, due_at) VALUES (k.rate_key, k.priority, k.ready)
            ON CONFLICT DO NOTHING;
            EXIT WHEN FOUND;
            -- Another writer made the lane meanwhile: hold or move it.
        END LOOP;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- After rows are written: pending rows make their lane due at their next_retry_at; a row
-- that leaves the queue's open states (completed, failed, cancelled) lets the next row of
-- its order key run, so that row's lane is made due at its time. (A row waiting behind an
-- open row of its order key is not due: the claim skips it, and its lane may sleep.) One
-- call a statement, so a bulk enqueue or a batch of outcomes touches each lane once.
CREATE FUNCTION crm_sync_queue_touch_lanes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM crm_queue_lanes_touch(array_agg(t.rate_key), array_agg(t.priority), array_agg(t.due))
    FROM (
        SELECT w.rate_key, w.priority, min(w.next_retry_at) AS due
        FROM (
            SELECT n.rate_key, n.priority, n.next_retry_at FROM new_rows n WHERE n.status = 'pending'
            UNION ALL
            SELECT f.rate_key, f.priority, f.next_retry_at
            FROM (SELECT DISTINCT n.order_key FROM new_rows n
                  WHERE n.status IN ('completed', 'failed', 'cancelled')) d
            CROSS JOIN LATERAL (
                SELECT q.rate_key, q.priority, q.next_retry_at, q.status
                FROM crm_sync_queue q
                WHERE q.order_key = d.order_key AND q.status IN ('pending', 'processing')
                ORDER BY q.id
                LIMIT 1
            ) f
            WHERE f.status = 'pending'
        ) w
        GROUP BY w.rate_key, w.priority
    ) t
    HAVING count(*) > 0;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER crm_sync_queue_touch_lanes_insert AFTER INSERT ON crm_sync_queue
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION crm_sync_queue_touch_lanes();
CREATE TRIGGER crm_sync_queue_touch_lanes_update AFTER UPDATE ON crm_sync_queue
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION crm_sync_queue_touch_lanes();

-- +goose StatementBegin
-- crm_queue_lanes_retract puts lanes a claim found empty to sleep until their next row can
-- run ('infinity': until a row is written). It returns how many it could. The snapshot of
-- the claim that found them empty is not enough: a writer may have committed rows since.
-- So: first hold the lanes FOR UPDATE, skipping a lane a writer holds (its rows are on
-- their way; the lane stays due); then, in a new statement and so a new snapshot, in which
-- every writer that touched these lanes has committed, read when each lane's next row can
-- run. A writer that comes later waits for this transaction and then moves the lane
-- earlier again (crm_queue_lanes_touch).
CREATE FUNCTION crm_queue_lanes_retract(keys text[], prios smallint[], at timestamptz) RETURNS integer
    LANGUAGE plpgsql AS $$
DECLARE
    held_keys  text[];
    held_prios smallint[];
    slept      integer;
BEGIN
    SELECT array_agg(h.rate_key), array_agg(h.priority) INTO held_keys, held_prios
    FROM (SELECT l.rate_key, l.priority
          FROM crm_queue_lanes l
          JOIN unnest(keys, prios) AS t(rate_key, priority)
            ON l.rate_key = t.rate_key AND l.priority = t.priority
          FOR UPDATE OF l SKIP LOCKED) h;
    -- A lane due by @at (the engine's clock) stays in the ready index.
    UPDATE crm_queue_lanes l
    SET due_at = CASE WHEN n.due_at <= at THEN '-infinity' ELSE n.due_at END
    FROM unnest(held_keys, held_prios) AS h(rate_key, priority)
    CROSS JOIN LATERAL (
        -- The lane's rows that can run once their time comes: not behind an open row of
        -- their order key (that row's end wakes the lane: crm_sync_queue_touch_lanes).
        SELECT coalesce(min(q.next_retry_at), 'infinity') AS due_at
        FROM crm_sync_queue q
        WHERE q.rate_key = h.rate_key AND q.priority = h.priority AND q.status = 'pending'
          AND NOT EXISTS (SELECT 1 FROM crm_sync_queue e
                          WHERE e.order_key = q.order_key AND e.id < q.id
                            AND e.status IN ('pending', 'processing'))
    ) n
    WHERE l.rate_key = h.rate_key AND l.priority = h.priority
      AND l.due_at IS DISTINCT FROM (CASE WHEN n.due_at <= at THEN '-infinity' ELSE n.due_at END);
    GET DIAGNOSTICS slept = ROW_COUNT;
    RETURN slept;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- A bucket that can give more than it could (a higher rate, a pause ended early) wakes its
-- key's waiting lanes; a new bucket wakes lanes that had none; a deleted one takes its
-- lanes with it.
CREATE FUNCTION crm_rate_buckets_wake_lanes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM crm_queue_lanes WHERE rate_key = OLD.rate_key;
        RETURN NULL;
    END IF;
    UPDATE crm_queue_lanes SET due_at = '-infinity', version = version + 1
    WHERE rate_key = NEW.rate_key AND due_at > '-infinity' AND due_at < 'infinity';
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER crm_rate_buckets_wake_lanes AFTER INSERT OR DELETE ON crm_rate_buckets
    FOR EACH ROW EXECUTE FUNCTION crm_rate_buckets_wake_lanes();
CREATE TRIGGER crm_rate_buckets_wake_lanes_update AFTER UPDATE OF per_minute, paused_until ON crm_rate_buckets
    FOR EACH ROW
    WHEN (OLD.per_minute IS DISTINCT FROM NEW.per_minute
          OR coalesce(NEW.paused_until, '-infinity') < coalesce(OLD.paused_until, '-infinity'))
    EXECUTE FUNCTION crm_rate_buckets_wake_lanes();

-- The lanes of the rows already pending; the claim sorts out which are really due.
INSERT INTO crm_queue_lanes (rate_key, priority, due_at)
SELECT DISTINCT rate_key, priority, '-infinity'::timestamptz FROM crm_sync_queue WHERE status = 'pending';

-- +goose Down
DROP TRIGGER crm_rate_buckets_wake_lanes_update ON crm_rate_buckets;
DROP TRIGGER crm_rate_buckets_wake_lanes ON crm_rate_buckets;
DROP FUNCTION crm_rate_buckets_wake_lanes();
DROP FUNCTION crm_queue_lanes_retract(text[], smallint[], timestamptz);
DROP TRIGGER crm_sync_queue_touch_lanes_update ON crm_sync_queue;
DROP TRIGGER crm_sync_queue_touch_lanes_insert ON crm_sync_queue;
DROP FUNCTION crm_sync_queue_touch_lanes();
DROP FUNCTION crm_queue_lanes_touch(text[], smallint[], timestamptz[]);
DROP TABLE crm_queue_lanes;
