-- One page of customers, newest first (created_at, then id, descending), with their
-- current tier's name. Filters are optional (NULL: any); @email matches exactly, in any
-- case (customers_client_email_key serves it when the client is given). The cursor is the
-- previous page's last (created_at, id), or NULL for the first.
SELECT c.id, c.client_id, c.email, c.first_name, c.last_name, c.phone, c.address, c.crm_id,
       c.is_club_member, c.current_tier_id, t.name, c.lifetime_value_cents, c.created_at, c.updated_at
FROM customers c
LEFT JOIN tiers t ON t.id = c.current_tier_id AND t.client_id = c.client_id
WHERE (@client_id::uuid IS NULL OR c.client_id = @client_id::uuid)
  AND (@email::text IS NULL OR lower(c.email) = lower(@email::text))
  AND (@after_created_at::timestamptz IS NULL
       OR (c.created_at, c.id) < (@after_created_at::timestamptz, @after_id::uuid))
ORDER BY c.created_at DESC, c.id DESC
LIMIT @limit
