-- One customer, in customer_list's columns.
SELECT c.id, c.client_id, c.email, c.first_name, c.last_name, c.phone, c.address, c.crm_id,
       c.is_club_member, c.current_tier_id, t.name, c.lifetime_value_cents, c.created_at, c.updated_at
FROM customers c
LEFT JOIN tiers t ON t.id = c.current_tier_id AND t.client_id = c.client_id
WHERE c.id = @id
