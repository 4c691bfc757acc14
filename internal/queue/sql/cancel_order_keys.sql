-- cancel_order_keys cancels every pending or failed row of @order_keys, with @reason in
-- its error_message; rows being processed finish as they are.
UPDATE crm_sync_queue q SET
    status        = 'cancelled',
    error_message = coalesce(q.error_message || '; ', '') || @reason::text,
    updated_at    = coalesce(@now::timestamptz, now())
WHERE q.order_key = ANY (@order_keys::text[]) AND q.status IN ('pending', 'failed')
