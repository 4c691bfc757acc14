-- compare classifies what differs between the run's listing (reconcile_crm_members) and
-- our enrollments now, and records each difference with the repair the client's
-- drift_policy calls for. @customer_ids and @crm_ids narrow it to some customers (NULL:
-- all): a difference being confirmed is compared again with the customer's fresh read.
-- A difference already recorded is set back to 'found' with what it is now.
--
-- Left out, as neither side can be trusted to be still: a customer with a queue row
-- pending or processing (the CRM is about to change), and one whose enrollments changed
-- here since the listing started.
--
-- It runs over a whole listing (100 000 members) in one pass: every step is a join or an
-- aggregate, never a subquery per row over a CTE. The caller plans it for its arguments
-- (plan_cache_mode force_custom_plan), so that a narrowed run folds the NULL tests away
-- and reads a few rows by index, and without JIT, whose compilation of a statement this
-- size cost 2 s against 0.06 s of execution for one customer (1.3 s for 100 000).
WITH run AS (
    SELECT r.id, r.client_id, r.started_at, c.drift_policy
    FROM reconcile_runs r
    JOIN clients c ON c.id = r.client_id
    WHERE r.id = @run_id
),
-- The listing's rows to compare: all, or those of the CRM ids asked for and those whose
-- email is one of the customers' asked for.
listed AS (
    SELECT m.*
    FROM reconcile_crm_members m
    WHERE m.reconcile_run_id = @run_id
      AND (@crm_ids::text[] IS NULL
           OR m.crm_customer_id = ANY (@crm_ids::text[])
           OR lower(m.email) = ANY (ARRAY(SELECT lower(c.email) FROM customers c WHERE c.id = ANY (@customer_ids::uuid[]))))
),
-- The CRM's members, each matched to our customer by its CRM id, else by its email (a
-- customer linked to another CRM id, or to none yet).
theirs AS (
    SELECT m.crm_customer_id, m.tier_id AS crm_tier_id, m.membership_id, t.rank, m.tier_note,
           coalesce(by_id.id, by_email.id) AS customer_id,
           by_id.id IS NULL AND by_email.id IS NOT NULL AS by_email,
           by_email.crm_id AS linked_crm_id
    FROM run
    JOIN listed m ON true
    JOIN tiers t ON t.id = m.tier_id
    LEFT JOIN customers by_id ON by_id.client_id = run.client_id AND by_id.crm_id = m.crm_customer_id
    LEFT JOIN customers by_email ON by_id.id IS NULL AND m.email IS NOT NULL
        AND by_email.client_id = run.client_id AND lower(by_email.email) = lower(m.email)
),
their_ids AS (
    SELECT DISTINCT crm_customer_id FROM theirs
),
-- Our customers to compare: all, or those asked for, those the CRM ids asked for belong
-- to, and those the listing's rows matched.
scope AS (
    SELECT unnest(@customer_ids::uuid[]) AS id
    UNION
    SELECT c.id FROM run JOIN customers c ON c.client_id = run.client_id AND c.crm_id = ANY (@crm_ids::text[])
    UNION
    SELECT customer_id FROM theirs WHERE customer_id IS NOT NULL
),
ours AS (
    SELECT e.id AS enrollment_id, e.customer_id, e.tier_id, c.crm_id
    FROM run
    JOIN enrollments e ON e.client_id = run.client_id AND e.status = 'active'
    JOIN customers c ON c.id = e.customer_id
    WHERE @customer_ids::uuid[] IS NULL
    UNION ALL
    SELECT e.id, e.customer_id, e.tier_id, c.crm_id
    FROM run
    JOIN scope s ON @customer_ids::uuid[] IS NOT NULL
    JOIN enrollments e ON e.customer_id = s.id AND e.status = 'active' AND e.client_id = run.client_id
    JOIN customers c ON c.id = e.customer_id
),
-- Customers left out (see above).
unsettled AS (
    SELECT k.id
    FROM (SELECT customer_id AS id FROM ours UNION SELECT customer_id FROM theirs WHERE customer_id IS NOT NULL) k
    CROSS JOIN run
    WHERE EXISTS (SELECT 1 FROM crm_sync_queue q
                  WHERE q.order_key = k.id::text AND q.status IN ('pending', 'processing'))
       OR EXISTS (SELECT 1 FROM enrollments e
                  WHERE e.customer_id = k.id AND e.updated_at > run.started_at)
),
-- Per our enrollment, what the CRM holds of the customer: our tier or not (and what the
-- CRM says of it), the highest-ranked other tier, and the CRM id to report.
held AS (
    SELECT o.enrollment_id, o.customer_id, o.tier_id, o.crm_id,
           coalesce(bool_or(h.crm_tier_id = o.tier_id), false) AS has_ours,
           (array_agg(h.tier_note) FILTER (WHERE h.crm_tier_id = o.tier_id AND h.tier_note IS NOT NULL))[1] AS our_note,
           (array_agg(h.crm_tier_id ORDER BY h.rank DESC) FILTER (WHERE h.crm_tier_id <> o.tier_id))[1] AS top_other,
           (array_agg(h.membership_id ORDER BY h.rank DESC) FILTER (WHERE h.crm_tier_id <> o.tier_id))[1] AS top_other_membership,
           (array_agg(h.crm_customer_id ORDER BY h.crm_tier_id = o.tier_id DESC, h.rank DESC)
                FILTER (WHERE h.crm_customer_id IS NOT NULL))[1] AS their_id
    FROM ours o
    LEFT JOIN theirs h ON h.customer_id = o.customer_id
    WHERE o.customer_id NOT IN (SELECT id FROM unsettled)
    GROUP BY o.enrollment_id, o.customer_id, o.tier_id, o.crm_id
),
-- The last ended enrollment of a customer the CRM holds without an active one here.
last_ended AS (
    SELECT DISTINCT ON (e.customer_id) e.customer_id, e.id, e.status, e.tier_id
    FROM enrollments e
    WHERE e.customer_id IN (SELECT customer_id FROM theirs WHERE customer_id IS NOT NULL)
      AND e.status <> 'active'
    ORDER BY e.customer_id, e.ended_at DESC, e.id DESC
),
found AS (
    -- We have an active enrollment; the CRM has no live membership of the customer. Under
    -- crm_wins the merchant ended it, unless it never reached the CRM: its last add or
    -- upgrade failed or was cancelled here, and the CRM gets it after all.
    SELECT 'missing_at_crm' AS kind, h.customer_id, h.crm_id AS crm_customer_id, h.enrollment_id,
           h.tier_id, NULL::uuid AS crm_tier_id, '' AS membership_id,
           CASE WHEN run.drift_policy = 'crm_wins' AND NOT h.never_synced THEN 'cancel_here' ELSE 'queue_add' END AS repair,
           CASE WHEN h.never_synced THEN 'its add never reached the CRM (the queue row failed or was cancelled)' ELSE '' END AS detail
    FROM (SELECT h.*, coalesce((SELECT q.status IN ('failed', 'cancelled') FROM crm_sync_queue q
                                WHERE q.enrollment_id = h.enrollment_id AND q.action_type IN ('add_membership', 'upgrade_membership')
                                ORDER BY q.id DESC LIMIT 1), false) AS never_synced
          FROM held h
          WHERE NOT h.has_ours AND h.top_other IS NULL) h, run
    UNION ALL
    -- The CRM holds another tier than ours, and not ours.
    SELECT 'wrong_tier', h.customer_id, h.their_id, h.enrollment_id, h.tier_id, h.top_other, coalesce(h.top_other_membership, ''),
           CASE WHEN run.drift_policy = 'crm_wins' THEN 'move_here' ELSE 'queue_upgrade' END, ''
    FROM held h, run
    WHERE NOT h.has_ours AND h.top_other IS NOT NULL
    UNION ALL
    -- The CRM holds our tier, but says another of it (Shopify: the tiersync.tier metafield
    -- names another tier, or is gone): the add sets it again, whatever the policy, as the
    -- tag is the membership and the metafield only describes it.
    SELECT 'wrong_tier', h.customer_id, h.their_id, h.enrollment_id, h.tier_id, h.tier_id, '', 'queue_add', h.our_note
    FROM held h
    WHERE h.has_ours AND h.our_note IS NOT NULL
    UNION ALL
    -- The CRM holds a tier besides the one that stands for our enrollment: a customer
    -- has one tier at a time, whatever the policy.
    SELECT 'extra_at_crm', h.customer_id, t.crm_customer_id, h.enrollment_id, h.tier_id, t.crm_tier_id, t.membership_id,
           'queue_cancel', 'the customer also holds this tier at the CRM'
    FROM held h
    JOIN theirs t ON t.customer_id = h.customer_id
    WHERE t.crm_tier_id <> h.tier_id AND (h.has_ours OR t.crm_tier_id <> h.top_other)
    UNION ALL
    -- The CRM holds a tier for a customer with no active enrollment here.
    -- Live after expiry: its last enrollment, of that tier, expired (our cancel never
    -- reached the CRM); it is cancelled whatever the policy, being our change, not the
    -- merchant's. So is one whose last enrollment of that tier was cancelled here.
    SELECT CASE WHEN l.status = 'expired' AND l.tier_id = t.crm_tier_id THEN 'live_after_expiry' ELSE 'extra_at_crm' END,
           t.customer_id, t.crm_customer_id, l.id, l.tier_id, t.crm_tier_id, t.membership_id,
           CASE WHEN NOT (l.status IN ('expired', 'cancelled') AND l.tier_id = t.crm_tier_id) IS TRUE AND run.drift_policy = 'crm_wins'
                     AND t.rank = max(t.rank) OVER (PARTITION BY t.crm_customer_id) THEN 'enroll_here'
                ELSE 'queue_cancel' END,
           CASE WHEN t.customer_id IS NULL THEN 'a customer tiersync does not know'
                WHEN l.status = 'cancelled' AND l.tier_id = t.crm_tier_id
                THEN 'its enrollment of this tier was cancelled here; the cancel never reached the CRM'
                ELSE '' END
    FROM theirs t
    CROSS JOIN run
    LEFT JOIN last_ended l ON l.customer_id = t.customer_id
    WHERE (t.customer_id IS NULL OR t.customer_id NOT IN (SELECT customer_id FROM ours))
      AND (t.customer_id IS NULL OR t.customer_id NOT IN (SELECT id FROM unsettled))
    UNION ALL
    -- The CRM holds a membership under another customer id than ours for the customer
    -- (found by email): relink, unless our id holds memberships too (two CRM customers
    -- for one of ours: a person merges them in the CRM).
    SELECT DISTINCT ON (t.customer_id, t.crm_customer_id) 'different_crm_id', t.customer_id, t.crm_customer_id, NULL::uuid, NULL::uuid, NULL::uuid, '',
           CASE WHEN t.linked_crm_id IN (SELECT crm_customer_id FROM their_ids) THEN 'none' ELSE 'relink' END,
           CASE WHEN t.linked_crm_id IS NULL THEN 'our customer has no CRM id yet'
                ELSE 'our customer is linked to CRM customer ' || t.linked_crm_id END
    FROM theirs t
    WHERE t.by_email AND t.customer_id NOT IN (SELECT id FROM unsettled)
)
INSERT INTO reconcile_differences AS d (reconcile_run_id, kind, customer_id, crm_customer_id, enrollment_id, tier_id,
                                        crm_tier_id, membership_id, repair, detail)
SELECT @run_id, f.kind, f.customer_id, f.crm_customer_id, f.enrollment_id, f.tier_id, f.crm_tier_id, f.membership_id, f.repair, f.detail
FROM found f
ON CONFLICT (reconcile_run_id, kind, customer_id, crm_customer_id, crm_tier_id) DO UPDATE
SET enrollment_id = EXCLUDED.enrollment_id, tier_id = EXCLUDED.tier_id, membership_id = EXCLUDED.membership_id,
    repair = EXCLUDED.repair, detail = EXCLUDED.detail, status = 'found'
WHERE d.status IN ('found', 'gone')
