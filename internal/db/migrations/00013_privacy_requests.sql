-- Shopify's mandatory privacy webhooks (issue 19): customers/data_request,
-- customers/redact and shop/redact, one row each, owned by internal/privacy.
--
-- A data request keeps how Shopify named the customer (GID, email, phone) until the
-- customer is redacted, then those are cleared (redacted_at). A redaction keeps no email
-- or phone at all (privacy_requests_no_contact_unless_data_request): only the Shopify ids,
-- the time and the counts of what was changed. A shop/redact outlives its client, whose
-- deletion it records: client_id is then NULL and the shop's domain and id remain (a
-- business's, not a person's).
-- +goose Up
CREATE TABLE privacy_requests (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id           uuid REFERENCES clients (id) ON DELETE CASCADE,
    topic               text NOT NULL CHECK (topic IN ('customers/data_request', 'customers/redact', 'shop/redact')),
    shop_domain         text NOT NULL CHECK (btrim(shop_domain) <> ''),
    shop_id             text NOT NULL CHECK (shop_id ~ '^[0-9]+$'),
    -- X-Shopify-Event-Id (or -Webhook-Id): a redelivery is answered "duplicate"
    event_id            text CHECK (event_id IS NULL OR btrim(event_id) <> ''),
    received_at         timestamptz NOT NULL DEFAULT now(),
    -- the customer as Shopify named it (gid://shopify/Customer/N), and ours if we hold one
    shopify_customer_id text CHECK (shopify_customer_id IS NULL OR btrim(shopify_customer_id) <> ''),
    customer_id         uuid,
    email               text,
    phone               text,
    -- orders_requested (data request) or orders_to_redact (redact): Shopify order ids
    order_ids           text[] NOT NULL DEFAULT '{}',
    data_request_id     text,
    -- what a redaction changed, as counts (never a value)
    result              jsonb,
    -- when a later customers/redact cleared this data request's email and phone
    redacted_at         timestamptz,
    CONSTRAINT privacy_requests_client CHECK ((client_id IS NULL) = (topic = 'shop/redact')),
    CONSTRAINT privacy_requests_no_contact_unless_data_request CHECK (
        topic = 'customers/data_request' OR (email IS NULL AND phone IS NULL)),
    CONSTRAINT privacy_requests_data_request_id CHECK ((topic = 'customers/data_request') = (data_request_id IS NOT NULL)),
    CONSTRAINT privacy_requests_customer FOREIGN KEY (customer_id, client_id)
        REFERENCES customers (id, client_id) ON DELETE CASCADE
);

CREATE INDEX privacy_requests_client_idx ON privacy_requests (client_id, id);
CREATE INDEX privacy_requests_customer_idx ON privacy_requests (customer_id) WHERE customer_id IS NOT NULL;
CREATE UNIQUE INDEX privacy_requests_event_key ON privacy_requests (client_id, topic, event_id)
    WHERE event_id IS NOT NULL;
CREATE UNIQUE INDEX privacy_requests_data_request_key ON privacy_requests (client_id, data_request_id)
    WHERE data_request_id IS NOT NULL;

-- scrub_text replaces every occurrence of each needle in t, in any case, by [redacted]:
-- what a redaction does to free texts (CRM error messages) that may quote a customer.
-- A needle that starts or ends with a letter or digit matches only there as a whole word,
-- so that the name "Al" leaves "Already" alone and "ann@x.com" leaves "joann@x.com". The
-- needle's other characters are matched literally (each escaped). Domain-free: the queue
-- calls it on its own columns.
-- +goose StatementBegin
CREATE FUNCTION scrub_text(t text, needles text[]) RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    n text;
BEGIN
    IF t IS NULL OR needles IS NULL THEN
        RETURN t;
    END IF;
    FOREACH n IN ARRAY needles LOOP
        CONTINUE WHEN n IS NULL OR btrim(n) = '';
        t := regexp_replace(t,
            CASE WHEN n ~ '^\w' THEN '\m' ELSE '' END
            || regexp_replace(n, '([]^$*+?(){}|.\\[])', '\\\1', 'g')
            || CASE WHEN n ~ '\w$' THEN '\M' ELSE '' END,
            '[redacted]', 'gi');
    END LOOP;
    RETURN t;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION scrub_text(text, text[]);
DROP TABLE privacy_requests;
