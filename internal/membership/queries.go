package membership

// The SQL of this package, kept in one place so it reads as SQL.

const qInsertClient = `
INSERT INTO clients (id, name, crm_type, tenant, rate_limit_per_minute, shopify_access_token_enc)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id, name, crm_type, tenant, rate_limit_per_minute, created_at`

const qListClients = `
SELECT id, name, crm_type, tenant, rate_limit_per_minute, created_at
FROM clients
WHERE ($1::timestamptz IS NULL OR (created_at, id) > ($1, $2::uuid))
ORDER BY created_at, id
LIMIT $3`

const qGetClient = `
SELECT id, name, crm_type, tenant, rate_limit_per_minute, created_at
FROM clients WHERE id = $1`

const qClientToken = `
SELECT shopify_access_token_enc FROM clients WHERE id = $1`

const qInsertTier = `
INSERT INTO tiers (client_id, crm_type, name, rank, duration_months, min_purchase_cents, min_ltv_cents,
                   c7_club_id, c7_delivery_method, shopify_tag)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
RETURNING ` + tierColumns

const tierColumns = `id, client_id, name, rank, duration_months, min_purchase_cents, min_ltv_cents,
       c7_club_id, c7_delivery_method, shopify_tag, created_at`

const qListTiers = `
SELECT ` + tierColumns + `
FROM tiers
WHERE client_id = $1 AND ($2::int IS NULL OR rank > $2)
ORDER BY rank
LIMIT $3`
