-- clients lists the clients a run reconciles (one when @client_id is set), with the
-- tiers each maps to the CRM.
SELECT c.id::text, c.name, c.crm_type, c.tenant, c.drift_policy,
       coalesce(array_agg(t.id::text ORDER BY t.rank) FILTER (WHERE t.id IS NOT NULL), '{}'),
       coalesce(array_agg(t.name ORDER BY t.rank) FILTER (WHERE t.id IS NOT NULL), '{}'),
       coalesce(array_agg(coalesce(t.c7_club_id, '') ORDER BY t.rank) FILTER (WHERE t.id IS NOT NULL), '{}'),
       coalesce(array_agg(coalesce(t.shopify_tag, '') ORDER BY t.rank) FILTER (WHERE t.id IS NOT NULL), '{}')
FROM clients c
LEFT JOIN tiers t ON t.client_id = c.id
WHERE @client_id::uuid IS NULL OR c.id = @client_id::uuid
GROUP BY c.id
ORDER BY c.name, c.id
