-- Replaces, whole, the payload of every webhook event of the client that is about the
-- customer: an order of theirs (ours or the request's list), their CRM id (Shopify's
-- customer.id, Commerce7's customerId), or a payload that mentions their email or phone
-- anywhere (an unpaid order recorded before the customer was). The payload goes in one
-- assignment, so no row is ever half-redacted; the error text is scrubbed of @needles.
WITH ids AS (
    SELECT @order_ids::text[] || ARRAY(SELECT o.crm_order_id FROM orders o
                                       WHERE o.client_id = @client_id
                                         AND o.customer_id = @customer_id::uuid) AS order_ids
)
UPDATE webhook_events e
SET payload = jsonb_build_object('redacted', true),
    error   = scrub_text(e.error, @needles::text[])
FROM ids
WHERE e.client_id = @client_id
  AND e.payload IS DISTINCT FROM jsonb_build_object('redacted', true)
  AND (e.payload ->> 'id' = ANY (ids.order_ids)
       OR e.payload #>> '{payload,id}' = ANY (ids.order_ids)
       OR e.payload #>> '{customer,id}' = ANY (@customer_ids::text[])
       OR e.payload #>> '{customer,admin_graphql_api_id}' = ANY (@customer_ids::text[])
       OR e.payload #>> '{payload,customerId}' = ANY (@customer_ids::text[])
       OR scrub_text(e.payload::text, @mentions::text[]) <> e.payload::text)
