-- A batch of one client's customers, described as a JSON array (one object per customer,
-- ids chosen by the caller). A customer with a current tier is a club member.
INSERT INTO customers (id, client_id, email, first_name, last_name, phone, address, crm_id,
                       is_club_member, current_tier_id, lifetime_value_cents)
SELECT r.id, @client_id, r.email, r.first_name, r.last_name, r.phone, r.address, r.crm_id,
       r.current_tier_id IS NOT NULL, r.current_tier_id, r.lifetime_value_cents
FROM jsonb_to_recordset(@rows::jsonb) AS r(id uuid, email text, first_name text, last_name text, phone text,
                                           address jsonb, crm_id text, current_tier_id uuid,
                                           lifetime_value_cents bigint)
