-- The tiersync schema (DESIGN §2). The database, not only the Go code, refuses bad rows:
-- every enum is a CHECK, every reference a foreign key, and the composite keys
-- (id, client_id) make a tier, customer or enrollment of another client impossible.

-- +goose Up
CREATE TABLE clients (
    id                        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                      text NOT NULL CHECK (btrim(name) <> ''),
    crm_type                  text NOT NULL CHECK (crm_type IN ('commerce7', 'shopify')),
    -- Commerce7 tenant id or Shopify shop domain.
    tenant                    text NOT NULL CHECK (btrim(tenant) <> ''),
    -- AES-256-GCM (nonce || ciphertext) of the Shopify Admin API token; never stored in clear.
    shopify_access_token_enc  bytea,
    rate_limit_per_minute     integer NOT NULL CHECK (rate_limit_per_minute > 0),
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT clients_shopify_needs_token
        CHECK (crm_type <> 'shopify' OR shopify_access_token_enc IS NOT NULL),
    -- Target of the tiers' (client_id, crm_type) foreign key.
    CONSTRAINT clients_id_crm_type_key UNIQUE (id, crm_type)
);
-- Tenants and shop domains are compared case-insensitively: "Shop.myshopify.com" is "shop.myshopify.com".
CREATE UNIQUE INDEX clients_tenant_key ON clients (lower(tenant));

CREATE TABLE tiers (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id           uuid NOT NULL,
    -- A copy of the client's crm_type, held in step by the foreign key below, so that the
    -- database itself refuses a Shopify tag on a Commerce7 client and the reverse.
    crm_type            text NOT NULL CHECK (crm_type IN ('commerce7', 'shopify')),
    name                text NOT NULL CHECK (btrim(name) <> ''),
    rank                integer NOT NULL CHECK (rank >= 0),
    duration_months     integer NOT NULL CHECK (duration_months > 0),
    -- 0 means "does not qualify by this measure".
    min_purchase_cents  bigint NOT NULL DEFAULT 0 CHECK (min_purchase_cents >= 0),
    min_ltv_cents       bigint NOT NULL DEFAULT 0 CHECK (min_ltv_cents >= 0),
    c7_club_id          text,
    c7_delivery_method  text CHECK (c7_delivery_method IN ('Ship', 'Pickup')),
    shopify_tag         text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tiers_client_fkey FOREIGN KEY (client_id, crm_type)
        REFERENCES clients (id, crm_type) ON DELETE CASCADE,
    CONSTRAINT tiers_mapping_fits_crm CHECK (
        (crm_type = 'commerce7' AND btrim(c7_club_id) <> '' AND c7_delivery_method IS NOT NULL
            AND shopify_tag IS NULL)
     OR (crm_type = 'shopify' AND btrim(shopify_tag) <> '' AND c7_club_id IS NULL
            AND c7_delivery_method IS NULL)),
    CONSTRAINT tiers_client_rank_key UNIQUE (client_id, rank),
    -- Each tier is its own Commerce7 club / Shopify tag: two tiers on one club would make
    -- "is this customer already a member?" ambiguous.
    CONSTRAINT tiers_client_c7_club_key UNIQUE (client_id, c7_club_id),
    CONSTRAINT tiers_client_shopify_tag_key UNIQUE (client_id, shopify_tag),
    CONSTRAINT tiers_id_client_key UNIQUE (id, client_id)
);

CREATE TABLE customers (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id             uuid NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    email                 text NOT NULL CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    first_name            text NOT NULL DEFAULT '',
    last_name             text NOT NULL DEFAULT '',
    phone                 text,
    -- {address, address2, city, state_code, zip_code, country_code} as the enrollment brought it.
    address               jsonb CHECK (address IS NULL OR jsonb_typeof(address) = 'object'),
    crm_id                text CHECK (crm_id IS NULL OR btrim(crm_id) <> ''),
    is_club_member        boolean NOT NULL DEFAULT false,
    current_tier_id       uuid,
    lifetime_value_cents  bigint NOT NULL DEFAULT 0 CHECK (lifetime_value_cents >= 0),
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT customers_current_tier_fkey FOREIGN KEY (current_tier_id, client_id)
        REFERENCES tiers (id, client_id),
    CONSTRAINT customers_member_has_tier CHECK (is_club_member = (current_tier_id IS NOT NULL)),
    CONSTRAINT customers_id_client_key UNIQUE (id, client_id)
);
CREATE UNIQUE INDEX customers_client_email_key ON customers (client_id, lower(email));
CREATE UNIQUE INDEX customers_client_crm_id_key ON customers (client_id, crm_id) WHERE crm_id IS NOT NULL;

CREATE TABLE orders (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id     uuid NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    crm_order_id  text NOT NULL CHECK (btrim(crm_order_id) <> ''),
    customer_id   uuid NOT NULL,
    total_cents   bigint NOT NULL CHECK (total_cents >= 0),
    currency      text,
    -- NULL until the order is paid; only paid orders count toward lifetime value.
    paid_at       timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orders_customer_fkey FOREIGN KEY (customer_id, client_id)
        REFERENCES customers (id, client_id),
    CONSTRAINT orders_client_crm_order_key UNIQUE (client_id, crm_order_id)
);
CREATE INDEX orders_customer_paid_idx ON orders (customer_id) WHERE paid_at IS NOT NULL;

CREATE TABLE enrollments (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id            uuid NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    customer_id          uuid NOT NULL,
    tier_id              uuid NOT NULL,
    status               text NOT NULL DEFAULT 'active'
                         CHECK (status IN ('active', 'expired', 'upgraded', 'cancelled')),
    enrolled_at          timestamptz NOT NULL DEFAULT now(),
    expires_at           timestamptz NOT NULL,
    ended_at             timestamptz,
    crm_membership_id    text,
    source               text NOT NULL CHECK (source IN ('api', 'order', 'cli')),
    qualifying_order_id  uuid REFERENCES orders (id),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT enrollments_customer_fkey FOREIGN KEY (customer_id, client_id)
        REFERENCES customers (id, client_id),
    CONSTRAINT enrollments_tier_fkey FOREIGN KEY (tier_id, client_id)
        REFERENCES tiers (id, client_id),
    CONSTRAINT enrollments_expires_after_start CHECK (expires_at > enrolled_at),
    CONSTRAINT enrollments_ended_when_not_active CHECK ((status = 'active') = (ended_at IS NULL))
);
-- At most one active enrollment per customer.
CREATE UNIQUE INDEX enrollments_one_active_per_customer ON enrollments (customer_id) WHERE status = 'active';
-- The expiration job's scan.
CREATE INDEX enrollments_active_expires_idx ON enrollments (expires_at) WHERE status = 'active';
CREATE INDEX enrollments_tier_idx ON enrollments (tier_id);

CREATE TABLE crm_sync_queue (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id        uuid NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    customer_id      uuid NOT NULL,
    enrollment_id    uuid REFERENCES enrollments (id),
    action_type      text NOT NULL
                     CHECK (action_type IN ('add_membership', 'cancel_membership', 'upgrade_membership')),
    tier_id          uuid NOT NULL,
    old_tier_id      uuid,
    customer_crm_id  text,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'cancelled')),
    -- Higher first: a member waiting on an enrollment outranks a nightly bulk of cancellations.
    priority         smallint NOT NULL DEFAULT 0,
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts     integer NOT NULL DEFAULT 5 CHECK (max_attempts > 0),
    -- Due time; a fresh row is due at once. NOT NULL keeps the claim's predicate a plain comparison.
    next_retry_at    timestamptz NOT NULL DEFAULT now(),
    last_attempt_at  timestamptz,
    locked_until     timestamptz,
    locked_by        text,
    error_message    text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    completed_at     timestamptz,
    CONSTRAINT crm_sync_queue_customer_fkey FOREIGN KEY (customer_id, client_id)
        REFERENCES customers (id, client_id) ON DELETE CASCADE,
    CONSTRAINT crm_sync_queue_tier_fkey FOREIGN KEY (tier_id, client_id)
        REFERENCES tiers (id, client_id),
    CONSTRAINT crm_sync_queue_old_tier_fkey FOREIGN KEY (old_tier_id, client_id)
        REFERENCES tiers (id, client_id),
    CONSTRAINT crm_sync_queue_upgrade_has_old_tier
        CHECK ((action_type = 'upgrade_membership') = (old_tier_id IS NOT NULL)),
    CONSTRAINT crm_sync_queue_processing_is_locked
        CHECK (status <> 'processing' OR (locked_by IS NOT NULL AND locked_until IS NOT NULL)),
    CONSTRAINT crm_sync_queue_completed_at
        CHECK ((status = 'completed') = (completed_at IS NOT NULL))
);
-- The claim walks clients and takes each one's pending rows, best priority first, then
-- oldest, with their due time and customer at hand.
CREATE INDEX crm_sync_queue_claim_idx ON crm_sync_queue (client_id, priority DESC, id)
    INCLUDE (next_retry_at, customer_id) WHERE status = 'pending';
-- Per-customer order: "does this customer have an earlier unfinished row?".
CREATE INDEX crm_sync_queue_customer_open_idx ON crm_sync_queue (customer_id, id)
    WHERE status IN ('pending', 'processing');
-- Rescue of rows whose lease lapsed.
CREATE INDEX crm_sync_queue_lease_idx ON crm_sync_queue (locked_until) WHERE status = 'processing';
-- Monitoring (the seeds' queries) and the admin page's filters.
CREATE INDEX crm_sync_queue_status_created_idx ON crm_sync_queue (status, created_at);
CREATE INDEX crm_sync_queue_enrollment_idx ON crm_sync_queue (enrollment_id);
-- The table churns (insert, 2-3 updates, delete after retention): vacuum it early and often,
-- and leave room on each page for HOT updates.
ALTER TABLE crm_sync_queue SET (
    fillfactor = 80,
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.02
);

CREATE TABLE crm_sync_attempts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue_id     bigint NOT NULL REFERENCES crm_sync_queue (id) ON DELETE CASCADE,
    attempt      integer NOT NULL CHECK (attempt > 0),
    worker       text NOT NULL,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL,
    -- succeeded: done; retry: back to pending with backoff; throttled: back to pending, attempt given
    -- back; failed: permanent or out of attempts; released: handed back at shutdown, attempt given
    -- back; lease_expired: its worker vanished mid-attempt (found by the rescuer; the attempt counts).
    outcome      text NOT NULL
                 CHECK (outcome IN ('succeeded', 'retry', 'throttled', 'failed', 'released', 'lease_expired')),
    http_status  integer CHECK (http_status BETWEEN 100 AND 599),
    error        text
);
CREATE INDEX crm_sync_attempts_queue_idx ON crm_sync_attempts (queue_id, id);
ALTER TABLE crm_sync_attempts SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.05);

CREATE TABLE job_runs (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_name       text NOT NULL
                   CHECK (job_name IN ('process-expired-enrollments', 'process-crm-sync-queue')),
    trigger        text NOT NULL CHECK (trigger IN ('schedule', 'manual')),
    -- The cron slot for a scheduled run (so N replicas race for one row), the request time for a manual one.
    scheduled_for  timestamptz NOT NULL,
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    status         text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    result         jsonb,
    error          text,
    runner         text,
    CONSTRAINT job_runs_job_name_scheduled_for_key UNIQUE (job_name, scheduled_for),
    CONSTRAINT job_runs_finished CHECK ((status = 'running') = (finished_at IS NULL))
);
CREATE INDEX job_runs_started_idx ON job_runs (started_at DESC);

CREATE TABLE webhook_events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id     uuid NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    provider      text NOT NULL CHECK (provider IN ('commerce7', 'shopify')),
    -- Dedupe key: Shopify X-Shopify-Event-Id (else X-Shopify-Webhook-Id); Commerce7 order id + action + updatedAt.
    external_id   text NOT NULL CHECK (btrim(external_id) <> ''),
    topic         text NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    payload       jsonb NOT NULL,
    processed_at  timestamptz,
    outcome       text CHECK (outcome IN ('accepted', 'ignored')),
    error         text,
    CONSTRAINT webhook_events_dedupe_key UNIQUE (client_id, provider, external_id)
);

CREATE TABLE enrollment_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    enrollment_id   uuid NOT NULL REFERENCES enrollments (id) ON DELETE CASCADE,
    event           text NOT NULL CHECK (event IN ('enrolled', 'upgraded', 'renewed', 'expired', 'cancelled')),
    old_tier_id     uuid REFERENCES tiers (id),
    new_tier_id     uuid REFERENCES tiers (id),
    old_expires_at  timestamptz,
    new_expires_at  timestamptz,
    -- What caused it: the API, an order, an expiration run, the CLI, an operator.
    cause           text NOT NULL CHECK (cause IN ('api', 'order', 'expiration', 'cli', 'admin')),
    order_id        uuid REFERENCES orders (id),
    job_run_id      bigint REFERENCES job_runs (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX enrollment_events_enrollment_idx ON enrollment_events (enrollment_id, id);

-- +goose Down
DROP TABLE enrollment_events;
DROP TABLE webhook_events;
DROP TABLE job_runs;
DROP TABLE crm_sync_attempts;
DROP TABLE crm_sync_queue;
DROP TABLE enrollments;
DROP TABLE orders;
DROP TABLE customers;
DROP TABLE tiers;
DROP TABLE clients;
