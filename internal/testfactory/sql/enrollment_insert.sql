-- A batch of enrollments, described as a JSON array (ids chosen by the caller). The client
-- is the customer's; the term is the tier's duration: given neither date, it starts now,
-- given only the end, it started one term before. An enrollment that is not active ended
-- now unless told when.
INSERT INTO enrollments (id, client_id, customer_id, tier_id, status, enrolled_at, expires_at, ended_at,
                         crm_membership_id, source)
SELECT r.id, cu.client_id, r.customer_id, r.tier_id, r.status, d.enrolled_at,
       coalesce(r.expires_at, d.enrolled_at + d.term),
       CASE WHEN r.status <> 'active' THEN coalesce(r.ended_at, now()) END,
       r.crm_membership_id, r.source
FROM jsonb_to_recordset(@rows::jsonb) AS r(id uuid, customer_id uuid, tier_id uuid, status text,
                                           enrolled_at timestamptz, expires_at timestamptz,
                                           ended_at timestamptz, crm_membership_id text, source text)
JOIN customers cu ON cu.id = r.customer_id
JOIN tiers t ON t.id = r.tier_id
CROSS JOIN LATERAL (
    SELECT make_interval(months => t.duration_months) AS term,
           coalesce(r.enrolled_at, r.expires_at - make_interval(months => t.duration_months), now()) AS enrolled_at
) d
