-- One page of privacy requests, newest first, before cursor @before.
SELECT id, client_id, topic, shop_domain, shop_id, event_id, received_at, shopify_customer_id,
       customer_id, email, phone, order_ids, data_request_id, result, redacted_at
FROM privacy_requests
WHERE (@before::bigint IS NULL OR id < @before::bigint)
ORDER BY id DESC
LIMIT @limit
