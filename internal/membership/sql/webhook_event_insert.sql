-- Records a webhook once: a second delivery of the same event, or of the same order
-- version under another event id (order_version, unique per client when set), returns
-- no row (it waits for the first delivery's transaction, then sees it). ON CONFLICT
-- without a target covers both unique indexes.
INSERT INTO webhook_events (client_id, provider, external_id, topic, payload, outcome, processed_at, order_version)
VALUES (@client_id, @provider, @external_id, @topic, @payload, @outcome, now(), @order_version)
ON CONFLICT DO NOTHING
RETURNING id
