-- One tier. Its crm_type is its client's (the foreign key wants them equal), and the CRM
-- mapping that crm_type needs is filled in unless given: a Commerce7 club (a UUID, as
-- Commerce7's ids are) shipped to the member, or a Shopify tag. The rank defaults to one above the client's best tier.
INSERT INTO tiers (client_id, crm_type, name, rank, duration_months, min_purchase_cents, min_ltv_cents,
                   c7_club_id, c7_delivery_method, c7_pickup_location_id, shopify_tag)
SELECT c.id, c.crm_type, coalesce(@name, 'Tier ' || r.rank), r.rank, @duration_months,
       @min_purchase_cents, @min_ltv_cents,
       coalesce(@c7_club_id, CASE WHEN c.crm_type = 'commerce7' THEN @default_club END),
       coalesce(@c7_delivery_method, CASE WHEN c.crm_type = 'commerce7' THEN 'Ship' END),
       @c7_pickup_location_id,
       coalesce(@shopify_tag, CASE WHEN c.crm_type = 'shopify' THEN @default_tag END)
FROM clients c
CROSS JOIN LATERAL (
    SELECT coalesce(@rank, (SELECT coalesce(max(t.rank), 0) + 1 FROM tiers t WHERE t.client_id = c.id)) AS rank
) r
WHERE c.id = @client_id
RETURNING id
