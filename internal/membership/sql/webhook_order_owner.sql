-- The client that owns an order id. In READ COMMITTED this second statement sees a
-- concurrent claim that won over webhook_order_claim.sql.
SELECT client_id
FROM webhook_order_owners
WHERE provider = @provider
  AND crm_order_id = @crm_order_id
