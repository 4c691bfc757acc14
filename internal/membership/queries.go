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

const qClientCRMType = `SELECT crm_type FROM clients WHERE id = $1`

const qTierForEnrollment = `SELECT client_id, duration_months FROM tiers WHERE id = $1`

// qUpsertCustomer finds the client's customer by email (any case) or creates it. The
// enrollment brings the freshest names; a phone or address it lacks keeps the stored one.
// A crm_id that contradicts the stored one refuses the update (no row comes back).
const qUpsertCustomer = `
INSERT INTO customers (client_id, email, first_name, last_name, phone, address, crm_id)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (client_id, lower(email)) DO UPDATE SET
    first_name = EXCLUDED.first_name,
    last_name  = EXCLUDED.last_name,
    phone      = coalesce(EXCLUDED.phone, customers.phone),
    address    = coalesce(EXCLUDED.address, customers.address),
    crm_id     = coalesce(customers.crm_id, EXCLUDED.crm_id),
    updated_at = now()
WHERE customers.crm_id IS NULL OR EXCLUDED.crm_id IS NULL OR customers.crm_id = EXCLUDED.crm_id
RETURNING id, crm_id`

// qInsertEnrollment computes expires_at in SQL, in UTC: 31 January + 1 month is 28 (or
// 29) February, where Go's AddDate would say 3 March.
const qInsertEnrollment = `
INSERT INTO enrollments (client_id, customer_id, tier_id, enrolled_at, expires_at, source)
SELECT $1, $2, $3, t.at, ((t.at AT TIME ZONE 'UTC') + make_interval(months => $5)) AT TIME ZONE 'UTC', $6
FROM (SELECT coalesce($4::timestamptz, now()) AS at) t
RETURNING ` + enrollmentColumns

const enrollmentColumns = `id, status, client_id, tier_id, customer_id, enrolled_at, expires_at, crm_membership_id`

const qEnrollmentEvent = `
INSERT INTO enrollment_events (enrollment_id, event, old_tier_id, new_tier_id, old_expires_at, new_expires_at, cause)
VALUES ($1, $2, $3, $4, $5, $6, $7)`

const qSetMember = `
UPDATE customers SET is_club_member = true, current_tier_id = $2, updated_at = now() WHERE id = $1`

// qGetEnrollment reads an enrollment with its latest queue row.
const qGetEnrollment = `
SELECT e.id, e.status, e.client_id, e.tier_id, e.customer_id, e.enrolled_at, e.expires_at, e.crm_membership_id,
       q.id, q.status
FROM enrollments e
LEFT JOIN LATERAL (SELECT id, status FROM crm_sync_queue WHERE enrollment_id = e.id ORDER BY id DESC LIMIT 1) q ON true
WHERE e.id = $1`

const qExpireBatch = `SELECT expired, queued FROM process_expired_enrollments($1, $2)`

const qCountDue = `SELECT count(*) FROM test_process_expired_enrollments()`

const qListDue = `
SELECT enrollment_id, client_id, customer_id, tier_id, email, expires_at
FROM test_process_expired_enrollments() LIMIT $1`
