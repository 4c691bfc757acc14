-- Everything a customer row holds, for a privacy data request.
SELECT id, email, first_name, last_name, phone, address, crm_id, is_club_member,
       current_tier_id, lifetime_value_cents, created_at, updated_at
FROM customers
WHERE id = @id AND client_id = @client_id
