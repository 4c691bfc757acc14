-- Records a privacy request, once: a redelivery (same event id, or the same data
-- request id) inserts nothing and returns no row.
INSERT INTO privacy_requests (client_id, topic, shop_domain, shop_id, event_id, shopify_customer_id,
                              customer_id, email, phone, order_ids, data_request_id)
VALUES (@client_id, @topic, @shop_domain, @shop_id, @event_id, @shopify_customer_id,
        @customer_id, @email, @phone, @order_ids, @data_request_id)
ON CONFLICT DO NOTHING
RETURNING id
