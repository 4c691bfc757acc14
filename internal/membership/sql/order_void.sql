-- Voids an order cancelled or deleted in the CRM: it leaves lifetime value for good (a
-- void is final; the first void time is kept). Returns its customer, whose lifetime
-- value is then recomputed; no row when the order was never seen.
UPDATE orders
SET voided_at  = coalesce(voided_at, now()),
    updated_at = now()
WHERE client_id = @client_id
  AND crm_order_id = @crm_order_id
RETURNING customer_id
