-- A rate bucket's shape, defined once (issue 18): a burst of up to 10 requests (a tenth of
-- the rate, at least 1) so that an idle winery's enrollment makes its 3-4 Commerce7 calls
-- at once instead of one every 0.6 s, and a refill of the rest of the minute's budget, so
-- that no 60-second window sees more than per_minute requests: burst + 60 s × refill =
-- per_minute. (The old shape, a burst of one second's worth refilled at the full rate,
-- allowed per_minute + per_minute/60 in a window and made a new customer's add take ~2.4 s
-- at Commerce7's 100/min.) Below 20/min the refill keeps at least half the rate, so a tiny
-- budget still moves; those windows may see up to 1.5× the rate.
-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION crm_rate_burst(per_minute integer) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN greatest(1.0, per_minute / 60.0, least(10.0, per_minute / 10.0));
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION crm_rate_refill_per_sec(per_minute integer) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN greatest(per_minute - crm_rate_burst(per_minute), per_minute / 2.0) / 60.0;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION clients_rate_bucket() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM crm_rate_buckets WHERE rate_key = OLD.id::text;
        RETURN NULL;
    END IF;
    INSERT INTO crm_rate_buckets (rate_key, per_minute, tokens, refilled_at)
    VALUES (NEW.id::text, NEW.rate_limit_per_minute, crm_rate_burst(NEW.rate_limit_per_minute), now())
    ON CONFLICT (rate_key) DO UPDATE SET per_minute = EXCLUDED.per_minute
    WHERE crm_rate_buckets.per_minute IS DISTINCT FROM EXCLUDED.per_minute;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION clients_rate_bucket() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM crm_rate_buckets WHERE rate_key = OLD.id::text;
        RETURN NULL;
    END IF;
    INSERT INTO crm_rate_buckets (rate_key, per_minute, tokens, refilled_at)
    VALUES (NEW.id::text, NEW.rate_limit_per_minute, greatest(1.0, NEW.rate_limit_per_minute / 60.0), now())
    ON CONFLICT (rate_key) DO UPDATE SET per_minute = EXCLUDED.per_minute
    WHERE crm_rate_buckets.per_minute IS DISTINCT FROM EXCLUDED.per_minute;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
DROP FUNCTION crm_rate_refill_per_sec(integer);
DROP FUNCTION crm_rate_burst(integer);
