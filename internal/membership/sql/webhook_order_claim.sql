-- Records which client an order id was first seen under, for providers whose order ids
-- are unique across all their shops.
INSERT INTO webhook_order_owners (provider, crm_order_id, client_id)
VALUES (@provider, @crm_order_id, @client_id)
ON CONFLICT (provider, crm_order_id) DO NOTHING
