-- What a queue row is about, as the admin page shows it: its client, its customer, and
-- (when the row has one) its enrollment with the tier's name. No row comes back when the
-- client or the customer is gone.
SELECT c.name, c.crm_type,
       cu.email, cu.first_name, cu.last_name, cu.crm_id,
       e.status, t.name, e.expires_at, e.crm_membership_id
FROM clients c
JOIN customers cu ON cu.id = @customer_id
LEFT JOIN enrollments e ON e.id = @enrollment_id
LEFT JOIN tiers t ON t.id = e.tier_id
WHERE c.id = @client_id
