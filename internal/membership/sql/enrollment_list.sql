-- One page of enrollments, newest first (enrolled_at, then id, descending), with what an
-- operator reads them by: the customer's email and names and the tier's name. Every
-- filter is optional (NULL: any); @email matches the customer's email exactly, in any
-- case; @search keeps the customers whose email or name ("first last") contains it,
-- case-insensitively and literally (strpos has no wildcards, where ILIKE would read % and
-- _ as patterns). The cursor is the previous page's last (enrolled_at, id), or NULL for
-- the first.
SELECT e.id, e.status, e.client_id, e.tier_id, e.customer_id, e.enrolled_at, e.expires_at, e.crm_membership_id,
       c.email, c.first_name, c.last_name, t.name
FROM enrollments e
JOIN customers c ON c.id = e.customer_id AND c.client_id = e.client_id
JOIN tiers t ON t.id = e.tier_id AND t.client_id = e.client_id
WHERE (@client_id::uuid IS NULL OR e.client_id = @client_id::uuid)
  AND (@tier_id::uuid IS NULL OR e.tier_id = @tier_id::uuid)
  AND (@status::text IS NULL OR e.status = @status::text)
  AND (@email::text IS NULL OR lower(c.email) = lower(@email::text))
  AND (@search::text IS NULL
       OR strpos(lower(c.email), lower(@search::text)) > 0
       OR strpos(lower(c.first_name || ' ' || c.last_name), lower(@search::text)) > 0)
  AND (@after_enrolled_at::timestamptz IS NULL
       OR (e.enrolled_at, e.id) < (@after_enrolled_at::timestamptz, @after_id::uuid))
ORDER BY e.enrolled_at DESC, e.id DESC
LIMIT @limit
