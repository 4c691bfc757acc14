-- known_emails are the emails the listing gave for some CRM customers (Shopify's carries
-- them; a customer's own read may not): kept when their members are read again.
SELECT DISTINCT ON (crm_customer_id) crm_customer_id, email
FROM reconcile_crm_members
WHERE reconcile_run_id = @run_id AND crm_customer_id = ANY (@crm_ids::text[]) AND email IS NOT NULL
