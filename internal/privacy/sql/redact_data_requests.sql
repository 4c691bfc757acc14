-- Clears the email and phone of the client's earlier data requests of a customer being
-- redacted (matched by our customer, the Shopify id, the email or the phone), keeping
-- that the request was made and when.
UPDATE privacy_requests p
SET email = NULL, phone = NULL, redacted_at = now()
WHERE p.client_id = @client_id
  AND p.topic = 'customers/data_request'
  AND (p.customer_id = @customer_id::uuid
       OR p.shopify_customer_id = @shopify_customer_id::text
       OR lower(p.email) = ANY (@emails::text[])
       OR p.phone = ANY (@phones::text[]))
  AND (p.email IS NOT NULL OR p.phone IS NOT NULL OR p.redacted_at IS NULL)
