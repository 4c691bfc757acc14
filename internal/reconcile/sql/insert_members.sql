-- insert_members stores members the CRM listed or a customer's read returned. A member
-- listed twice (a listing that moved under us, or a filter the CRM ignored) is kept once.
INSERT INTO reconcile_crm_members (reconcile_run_id, crm_customer_id, tier_id, membership_id, email, tier_note)
SELECT @run_id, m.customer_id, m.tier_id, m.membership_id, nullif(m.email, ''), nullif(m.note, '')
FROM unnest(@customer_ids::text[], @tier_ids::uuid[], @membership_ids::text[], @emails::text[], @notes::text[])
         AS m(customer_id, tier_id, membership_id, email, note)
ON CONFLICT DO NOTHING
