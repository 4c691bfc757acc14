-- sync_subject reads what a queue row is about, as it is now (not as it was when the row
-- was enqueued): the client, the customer (its CRM id may have been learnt since), the
-- tier and, for upgrades, the old tier, and the enrollment. The composite conditions
-- (… AND x.client_id = c.id) keep every part within the row's client.
SELECT c.crm_type, c.tenant,
       cu.email, cu.first_name, cu.last_name, coalesce(cu.phone, ''), cu.address, coalesce(cu.crm_id, ''),
       t.id, t.name, coalesce(t.c7_club_id, ''), coalesce(t.c7_delivery_method, ''),
       coalesce(t.c7_pickup_location_id, ''), coalesce(t.shopify_tag, ''),
       ot.id, coalesce(ot.name, ''), coalesce(ot.c7_club_id, ''), coalesce(ot.c7_delivery_method, ''),
       coalesce(ot.c7_pickup_location_id, ''), coalesce(ot.shopify_tag, ''),
       e.enrolled_at, e.expires_at, coalesce(e.crm_membership_id, '')
FROM clients c
JOIN customers cu ON cu.id = @customer_id AND cu.client_id = c.id
JOIN tiers t ON t.id = @tier_id AND t.client_id = c.id
LEFT JOIN tiers ot ON ot.id = @old_tier_id AND ot.client_id = c.id
LEFT JOIN enrollments e ON e.id = @enrollment_id AND e.client_id = c.id
WHERE c.id = @client_id
