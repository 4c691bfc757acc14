-- Finds and locks the client's enrollment that a CRM membership id belongs to: the active
-- one if there is one, else the newest (crm_membership_id is not unique: an id written
-- around the application must not make a webhook fail).
SELECT id, status, customer_id, tier_id, expires_at
FROM enrollments
WHERE client_id = @client_id
  AND crm_membership_id = @crm_membership_id
ORDER BY status = 'active' DESC, created_at DESC, id
LIMIT 1
FOR UPDATE
