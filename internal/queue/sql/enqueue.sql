-- enqueue inserts a batch of rows in the order given and returns their ids. The domain
-- columns (client_id … customer_crm_id) are stored as given and never read back by the
-- engine; rate_key and order_key are the engine's. An empty key is stored as NULL, and the
-- schema's default (crm_sync_queue_default_keys) fills it from client_id / customer_id.
INSERT INTO crm_sync_queue (client_id, customer_id, enrollment_id, action_type, tier_id, old_tier_id,
                            customer_crm_id, rate_key, order_key, priority, max_attempts)
SELECT client_id, customer_id, enrollment_id, action_type, tier_id, old_tier_id, customer_crm_id,
       nullif(rate_key, ''), nullif(order_key, ''), priority, max_attempts
FROM unnest(@client_ids::uuid[], @customer_ids::uuid[], @enrollment_ids::uuid[], @actions::text[],
            @tier_ids::uuid[], @old_tier_ids::uuid[], @customer_crm_ids::text[], @rate_keys::text[],
            @order_keys::text[], @priorities::smallint[], @max_attempts::int[])
     WITH ORDINALITY AS j(client_id, customer_id, enrollment_id, action_type, tier_id, old_tier_id, customer_crm_id,
                          rate_key, order_key, priority, max_attempts, n)
ORDER BY n
RETURNING id
