-- claim_due claims up to @limit due rows, fairly. It walks lanes (crm_queue_lanes, one per
-- rate key and priority: migration 00018), never the whole queue, so its cost follows the
-- rows it takes, not the number of wineries:
--   - across lanes, best priority first; then lanes whose wait just ended (a backoff, a
--     token), longest waiting first; then the ready lanes in (rate_key) order from where
--     this claimer's last claim stopped (@after_priority, @after_key), wrapping around:
--     round-robin, each lane once a lap, so one client's backlog cannot hold another's
--     row back by more than a lap;
--   - rate keys whose bucket is empty or paused are skipped (their lanes sleep until the
--     next token or the pause's end), and no key gets more rows than it has tokens (each
--     row needs at least one request);
--   - within a lane, oldest first; a row waits while an earlier row of its order key is
--     pending (even in backoff) or processing, so one customer's changes apply one at a
--     time in order;
--   - within one claim, every lane's first row comes before any lane's second.
-- A lane another claimer holds is skipped (SKIP LOCKED), so any number of claimers on any
-- number of replicas run at once without waiting for one another.
-- It returns the claimed rows (kind 'row'), then the lanes it found with nothing to claim
-- (kind 'empty': the caller puts them to sleep with crm_queue_lanes_retract, which must
-- run in a new statement), then the last lane it walked (kind 'cursor': where the next
-- claim starts), then one 'more' row when another claim may find more: it walked a full
-- @limit of lanes (others may wait beyond them), or it took less than @limit and a lane
-- gave its whole share (a lane with fewer rows left the rest of the claim unused).
-- @now is the injected clock (NULL: the database's now()); durations travel in ms.
WITH walk AS (
    -- The ready lanes in walk order, each segment an index range of the ready index. The
    -- outer LIMIT stops the walk (and its locks) as soon as it has @limit lanes; each
    -- segment's own LIMIT tells the planner so (without it, it sorts the whole segment).
    -- (A locking clause may not sit in a UNION's own branches, so each is a subquery.)
    SELECT w.* FROM (
        SELECT * FROM (
            SELECT l.ctid AS row, l.rate_key, l.priority, l.version, l.due_at, 1 AS seg
            FROM crm_queue_lanes l
            WHERE l.due_at = '-infinity' AND l.priority > @after_priority::smallint
            ORDER BY l.priority DESC, l.rate_key
            LIMIT @limit FOR NO KEY UPDATE SKIP LOCKED) s1
        UNION ALL
        SELECT * FROM (
            SELECT l.ctid, l.rate_key, l.priority, l.version, l.due_at, 2
            FROM crm_queue_lanes l
            WHERE l.due_at = '-infinity' AND l.priority = @after_priority::smallint AND l.rate_key > @after_key::text
            ORDER BY l.rate_key
            LIMIT @limit FOR NO KEY UPDATE SKIP LOCKED) s2
        UNION ALL
        SELECT * FROM (
            SELECT l.ctid, l.rate_key, l.priority, l.version, l.due_at, 3
            FROM crm_queue_lanes l
            WHERE l.due_at = '-infinity' AND l.priority = @after_priority::smallint AND l.rate_key <= @after_key::text
            ORDER BY l.rate_key
            LIMIT @limit FOR NO KEY UPDATE SKIP LOCKED) s3
        UNION ALL
        SELECT * FROM (
            SELECT l.ctid, l.rate_key, l.priority, l.version, l.due_at, 4
            FROM crm_queue_lanes l
            WHERE l.due_at = '-infinity' AND l.priority < @after_priority::smallint
            ORDER BY l.priority DESC, l.rate_key
            LIMIT @limit FOR NO KEY UPDATE SKIP LOCKED) s4
    ) w
    LIMIT @limit
), woken AS (
    -- Lanes whose wait (a backoff, an empty bucket, a pause) is over, longest waiting first.
    SELECT l.ctid AS row, l.rate_key, l.priority, l.version, l.due_at, 0 AS seg
    FROM crm_queue_lanes l
    WHERE l.due_at > '-infinity' AND l.due_at < 'infinity' -- (the waiting index's predicate)
      AND l.due_at <= coalesce(@now::timestamptz, now())
    ORDER BY l.due_at
    LIMIT @limit
    FOR NO KEY UPDATE SKIP LOCKED
), lanes AS (
    -- Each held lane with its bucket's tokens now (refilled at crm_rate_refill_per_sec, up
    -- to crm_rate_burst: migration 00011) and its place in this claim's order.
    SELECT x.row, x.rate_key, x.priority, x.version, x.due_at, x.seg, b.per_sec, b.paused_until,
           coalesce(b.available, 0) AS available,
           row_number() OVER (ORDER BY x.priority DESC, x.seg, x.due_at, x.rate_key) AS place
    FROM (SELECT * FROM walk UNION ALL SELECT * FROM woken) x
    LEFT JOIN LATERAL (
        SELECT crm_rate_refill_per_sec(b.per_minute) AS per_sec,
               least(crm_rate_burst(b.per_minute),
                     b.tokens + greatest(0, extract(epoch FROM coalesce(@now::timestamptz, now()) - b.refilled_at))
                                * crm_rate_refill_per_sec(b.per_minute)) AS available,
               CASE WHEN b.paused_until > coalesce(@now::timestamptz, now()) THEN b.paused_until END AS paused_until
        FROM crm_rate_buckets b
        WHERE b.rate_key = x.rate_key
        -- One bucket a key (its primary key); the LIMIT also keeps this a lookup per lane,
        -- where the planner would otherwise hash every bucket, every claim.
        LIMIT 1
    ) b ON true
), open AS (
    -- The lanes this claim serves: the first @limit in order, with a token and no pause.
    SELECT l.*, ceil(@limit::bigint / count(*) OVER ()::numeric) AS share
    FROM lanes l
    WHERE l.place <= @limit AND l.per_sec IS NOT NULL AND l.paused_until IS NULL AND l.available >= 1
), candidates AS (
    -- Each open lane's first rows: its share of the claim (all of it for one lane, one row
    -- each for @limit lanes), never more than its key's tokens. With many lanes a lane is
    -- probed again a lap later, by when the rows it left waiting behind the ones taken now
    -- can usually run.
    -- The probe reads the key's rows from the lane's priority down, in the claim index's
    -- order; those of a lower priority (read only when the lane has fewer rows than its
    -- share) are dropped. Not an equality on priority, on purpose: with one, the planner
    -- sees that the primary key gives id order too, and under a LIMIT it cannot know may
    -- walk it through every finished row (measured: 13 ms a claim instead of 1.5). The
    -- claim runs with bitmap scans off (claimer.once): with them the planner reads and
    -- sorts a small lane's every row instead (measured: 70 µs a lane instead of 11).
    SELECT o.rate_key, o.priority, o.place, o.available, least(floor(o.available), o.share) AS take, j.id,
           row_number() OVER (PARTITION BY o.rate_key, o.priority ORDER BY j.id) AS rn
    FROM open o
    CROSS JOIN LATERAL (
        SELECT q.id, q.priority
        FROM crm_sync_queue q
        WHERE q.rate_key = o.rate_key AND q.priority <= o.priority
          AND q.status = 'pending'
          AND q.next_retry_at <= coalesce(@now::timestamptz, now())
          AND NOT EXISTS (SELECT 1 FROM crm_sync_queue e
                          WHERE e.order_key = q.order_key AND e.id < q.id
                            AND e.status IN ('pending', 'processing'))
        ORDER BY q.priority DESC, q.id
        LIMIT least(floor(o.available), o.share)::bigint
    ) j
    WHERE j.priority = o.priority
), picked AS (
    -- A key's lanes share its tokens; then every lane's first row before any lane's second.
    SELECT c.id
    FROM (SELECT c.*, row_number() OVER (PARTITION BY c.rate_key ORDER BY c.priority DESC, c.rn) AS key_turn
          FROM candidates c) c
    WHERE c.key_turn <= floor(c.available)
    ORDER BY c.priority DESC, c.rn, c.place
    LIMIT @limit
), chosen AS (
    -- A row changed since this statement's snapshot (an operator's "run now", a cancel) is
    -- read again, and skipped if it is no longer due.
    SELECT q.id
    FROM crm_sync_queue q
    WHERE q.id IN (SELECT id FROM picked)
      AND q.status = 'pending' AND q.next_retry_at <= coalesce(@now::timestamptz, now())
    FOR UPDATE OF q SKIP LOCKED
), claimed AS (
    -- claim set: the chosen rows become this worker's: processing, one more attempt, a lease.
    -- A row with no attempt left (its earlier workers died mid-attempt, and the rescuer
    -- counted those attempts) is failed instead of run again. claim_one.sql has the same
    -- statement (TestStatementsAgree).
    UPDATE crm_sync_queue q SET
        status          = CASE WHEN q.attempts >= q.max_attempts THEN 'failed' ELSE 'processing' END,
        attempts        = CASE WHEN q.attempts >= q.max_attempts THEN q.attempts ELSE q.attempts + 1 END,
        locked_by       = CASE WHEN q.attempts >= q.max_attempts THEN NULL ELSE @worker END,
        locked_until    = CASE WHEN q.attempts >= q.max_attempts THEN NULL
                               ELSE coalesce(@now::timestamptz, now()) + @lease_ms * interval '1 millisecond' END,
        last_attempt_at = CASE WHEN q.attempts >= q.max_attempts THEN q.last_attempt_at
                               ELSE coalesce(@now::timestamptz, now()) END,
        error_message   = CASE WHEN q.attempts >= q.max_attempts
                               THEN format('no attempts left: claimed after %s attempt(s) whose workers died mid-attempt', q.attempts)
                               ELSE q.error_message END,
        updated_at      = coalesce(@now::timestamptz, now())
    FROM chosen
    WHERE q.id = chosen.id
    RETURNING q.id, q.action_type, q.rate_key, q.order_key, q.priority, q.attempts, q.max_attempts, q.created_at, q.status
), taken AS (
    -- Rows claimed per key: they will spend its tokens.
    SELECT c.rate_key, count(*) AS n_rows FROM claimed c GROUP BY c.rate_key
), fate AS (
    -- What becomes of each held lane: a key left without a token, or paused, sleeps until
    -- its next token or the pause's end (a bucket deleted under it, a minute); a woken lane
    -- becomes ready; the rest stay as they are.
    SELECT l.row, l.version, l.due_at AS was,
           CASE WHEN l.place > @limit THEN '-infinity'
                WHEN l.per_sec IS NULL THEN coalesce(@now::timestamptz, now()) + interval '1 minute'
                WHEN l.paused_until IS NOT NULL THEN l.paused_until
                WHEN l.available - coalesce(k.n_rows, 0) < 1
                    THEN coalesce(@now::timestamptz, now())
                         + (1 - (l.available - coalesce(k.n_rows, 0))) / l.per_sec * interval '1 second'
                ELSE '-infinity' END AS due_at
    FROM lanes l
    LEFT JOIN taken k ON k.rate_key = l.rate_key
), moved AS (
    -- A lane made due earlier since it was read (version) keeps that; the claim's view of
    -- it, or of its bucket, may be out of date. The lane is found by its row's address:
    -- this claim holds its lock, so no one else can move it, and the join stays one
    -- lookup a lane (by key, the planner would scan every lane).
    UPDATE crm_queue_lanes l
    SET due_at = CASE WHEN l.version = f.version OR f.due_at = '-infinity' THEN f.due_at ELSE l.due_at END
    FROM fate f
    WHERE l.ctid = ANY (ARRAY(SELECT row FROM fate WHERE due_at IS DISTINCT FROM was)) AND l.ctid = f.row
      AND f.due_at IS DISTINCT FROM f.was
)
SELECT 'row' AS kind, c.id, c.action_type, c.rate_key, c.order_key, c.priority, c.attempts, c.max_attempts,
       c.created_at, c.status
FROM claimed c
UNION ALL
SELECT 'empty', NULL, NULL, o.rate_key, NULL, o.priority, NULL, NULL, NULL, NULL
FROM open o
WHERE NOT EXISTS (SELECT 1 FROM candidates c WHERE c.rate_key = o.rate_key AND c.priority = o.priority)
UNION ALL
(SELECT 'cursor', NULL, NULL, l.rate_key, NULL, l.priority, NULL, NULL, NULL, NULL
 FROM lanes l WHERE l.seg > 0 AND l.place <= @limit ORDER BY l.place DESC LIMIT 1)
UNION ALL
SELECT 'more', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
WHERE (SELECT count(*) FROM lanes) >= @limit
   OR ((SELECT count(*) FROM claimed) < @limit
       AND EXISTS (SELECT 1 FROM candidates c JOIN open o ON o.rate_key = c.rate_key AND o.priority = c.priority
                   WHERE c.rn = c.take AND o.share < floor(o.available)))
