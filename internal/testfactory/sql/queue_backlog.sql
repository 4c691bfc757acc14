-- A backlog: @per rows for each of @customer_ids (round-robin: every customer's first row,
-- then every customer's second, …), each a pending @action_type row of @tier_id at
-- @priority, keyed as the engine keys them. Compact on the wire, unlike queue_insert's
-- JSON: a 100 000-row backlog is a few kilobytes of parameters.
INSERT INTO crm_sync_queue (client_id, customer_id, action_type, tier_id, priority, rate_key, order_key)
SELECT cu.client_id, cu.id, @action_type, @tier_id::uuid, @priority::smallint, cu.client_id::text, cu.id::text
FROM generate_series(1, @per::int) AS g(n)
CROSS JOIN unnest(@customer_ids::uuid[]) WITH ORDINALITY AS c(id, ord)
JOIN customers cu ON cu.id = c.id
ORDER BY g.n, c.ord
