package membership

// The positional SQL that clients.go, enrollments.go and orders.go still use while they move to the
// named statements in sql/ (queries.go); this file goes when they have.

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

// qInsertWebhookEvent records a webhook once: a second delivery of the same event, or of
// the same order version under another event id (order_version, unique per client when
// set), returns no row (it waits for the first delivery's transaction, then sees it).
// ON CONFLICT without a target covers both unique indexes.
const qInsertWebhookEvent = `
INSERT INTO webhook_events (client_id, provider, external_id, topic, payload, outcome, processed_at, order_version)
VALUES ($1, $2, $3, $4, $5, $6, now(), $7)
ON CONFLICT DO NOTHING
RETURNING id`

// qClaimOrder records which client an order id was first seen under, for providers whose
// order ids are unique across all their shops; qOrderOwner reads the owner back (in READ
// COMMITTED, a second statement sees a concurrent claim that won).
const qClaimOrder = `
INSERT INTO webhook_order_owners (provider, crm_order_id, client_id)
VALUES ($1, $2, $3)
ON CONFLICT (provider, crm_order_id) DO NOTHING`

const qOrderOwner = `
SELECT client_id FROM webhook_order_owners WHERE provider = $1 AND crm_order_id = $2`

// qCustomerByCRMID finds and locks a customer by CRM id.
const qCustomerByCRMID = `
SELECT id FROM customers WHERE client_id = $1 AND crm_id = $2 FOR UPDATE`

// qUpsertOrderCustomer finds a customer by email or creates it from the order, and locks
// it (the upsert's row lock holds until commit). A CRM id fills a missing one.
const qUpsertOrderCustomer = `
INSERT INTO customers (client_id, email, first_name, last_name, crm_id)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (client_id, lower(email)) DO UPDATE SET
    crm_id     = coalesce(customers.crm_id, EXCLUDED.crm_id),
    first_name = CASE WHEN customers.first_name = '' THEN EXCLUDED.first_name ELSE customers.first_name END,
    last_name  = CASE WHEN customers.last_name = '' THEN EXCLUDED.last_name ELSE customers.last_name END,
    updated_at = now()
RETURNING id`

// qUpsertOrder records an order by its CRM id; an update (Commerce7 Update, Shopify
// orders/paid after orders/create) replaces the total and keeps the first paid time.
const qUpsertOrder = `
INSERT INTO orders (client_id, crm_order_id, customer_id, total_cents, currency, paid_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (client_id, crm_order_id) DO UPDATE SET
    total_cents = EXCLUDED.total_cents,
    currency    = coalesce(EXCLUDED.currency, orders.currency),
    paid_at     = coalesce(orders.paid_at, EXCLUDED.paid_at),
    updated_at  = now()
RETURNING id`

// qUpdateLTV recomputes lifetime value as the sum of the customer's paid orders. sum() of
// a bigint is a numeric, so the sum itself cannot overflow; it saturates at the bigint
// maximum instead of failing the order with "bigint out of range" (each order is capped at
// MaxOrderCents, so only rows written around the application could get there).
const qUpdateLTV = `
UPDATE customers SET
    lifetime_value_cents = (
        SELECT least(coalesce(sum(total_cents), 0), 9223372036854775807)::bigint
        FROM orders WHERE customer_id = $1 AND paid_at IS NOT NULL),
    updated_at = now()
WHERE id = $1
RETURNING lifetime_value_cents`

// qQualifyingTier is the highest tier the order or the lifetime value reaches; a 0
// threshold means "not by this measure".
const qQualifyingTier = `
SELECT id, rank, duration_months FROM tiers
WHERE client_id = $1
  AND ((min_purchase_cents > 0 AND min_purchase_cents <= $2) OR (min_ltv_cents > 0 AND min_ltv_cents <= $3))
ORDER BY rank DESC
LIMIT 1`

// qActiveEnrollment reads and locks the customer's active enrollment with its tier's rank.
const qActiveEnrollment = `
SELECT e.id, e.tier_id, t.rank, e.expires_at
FROM enrollments e JOIN tiers t ON t.id = e.tier_id
WHERE e.customer_id = $1 AND e.status = 'active'
FOR UPDATE OF e`

// qRenew extends an enrollment to paid_at + duration when that is later.
const qRenew = `
UPDATE enrollments SET
    expires_at = greatest(expires_at, (($2::timestamptz AT TIME ZONE 'UTC') + make_interval(months => $3)) AT TIME ZONE 'UTC'),
    updated_at = now()
WHERE id = $1
RETURNING expires_at`

const qStillRunning = `
SELECT (($1::timestamptz AT TIME ZONE 'UTC') + make_interval(months => $2)) AT TIME ZONE 'UTC' > now()`

const qEndEnrollment = `
UPDATE enrollments SET status = $2, ended_at = now(), updated_at = now() WHERE id = $1`

const qInsertOrderEnrollment = `
INSERT INTO enrollments (client_id, customer_id, tier_id, enrolled_at, expires_at, source, qualifying_order_id)
VALUES ($1, $2, $3, $4, (($4::timestamptz AT TIME ZONE 'UTC') + make_interval(months => $5)) AT TIME ZONE 'UTC', 'order', $6)
RETURNING ` + enrollmentColumns

const qOrderEvent = `
INSERT INTO enrollment_events (enrollment_id, event, old_tier_id, new_tier_id, old_expires_at, new_expires_at, cause, order_id)
VALUES ($1, $2, $3, $4, $5, $6, 'order', $7)`

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

const qClientByTenant = `
SELECT id, name, crm_type, tenant, rate_limit_per_minute, created_at
FROM clients WHERE crm_type = $1 AND lower(tenant) = lower($2)`
