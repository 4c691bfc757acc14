-- Reconciliation (issue 22): a job that lists each client's memberships at the CRM and
-- compares them with our active enrollments. A run per client keeps its listing's cursor
-- and what the listing returned, so a run that dies resumes at the next page rather than
-- starting again (a big client's listing takes an hour at the CRM's rate limit); the
-- differences it finds, and what was done about each, are kept for the report.
-- +goose Up
ALTER TABLE clients ADD COLUMN drift_policy text NOT NULL DEFAULT 'tiersync_wins'
    CHECK (drift_policy IN ('tiersync_wins', 'crm_wins'));

ALTER TABLE job_runs DROP CONSTRAINT job_runs_job_name_check,
    ADD CONSTRAINT job_runs_job_name_check
        CHECK (job_name IN ('process-expired-enrollments', 'process-crm-sync-queue', 'reconcile-memberships'));
ALTER TABLE enrollments DROP CONSTRAINT enrollments_source_check,
    ADD CONSTRAINT enrollments_source_check CHECK (source IN ('api', 'order', 'cli', 'crm', 'admin', 'reconcile'));
ALTER TABLE enrollment_events DROP CONSTRAINT enrollment_events_cause_check,
    ADD CONSTRAINT enrollment_events_cause_check
        CHECK (cause IN ('api', 'order', 'expiration', 'cli', 'admin', 'crm', 'reconcile'));

-- One client's part of a reconcile job run. job_run_id moves to the run that resumes it.
CREATE TABLE reconcile_runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_run_id  bigint NOT NULL REFERENCES job_runs (id) ON DELETE CASCADE,
    client_id   uuid NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    dry_run     boolean NOT NULL,
    -- listing: reading the CRM page by page; checking: confirming and repairing each
    -- difference; done; failed (the CRM or the listing could not be read).
    status      text NOT NULL DEFAULT 'listing' CHECK (status IN ('listing', 'checking', 'done', 'failed')),
    cursor      text NOT NULL DEFAULT '' CHECK (octet_length(cursor) <= 4096),
    pages       integer NOT NULL DEFAULT 0,
    listed      integer NOT NULL DEFAULT 0,
    -- The comparison ignores what changed here after this moment (it is the listing's
    -- start: a change made during the listing may or may not be in it).
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    error       text,
    CONSTRAINT reconcile_runs_finished CHECK ((status IN ('done', 'failed')) = (finished_at IS NOT NULL))
);
CREATE INDEX reconcile_runs_job_run_idx ON reconcile_runs (job_run_id);
-- At most one unfinished run per client: a second replica's run waits for, or resumes,
-- the first one's.
CREATE UNIQUE INDEX reconcile_runs_open_key ON reconcile_runs (client_id) WHERE finished_at IS NULL;
CREATE INDEX reconcile_runs_client_idx ON reconcile_runs (client_id, id DESC);

-- What the CRM's listing returned: a live membership in a tier we map.
CREATE TABLE reconcile_crm_members (
    reconcile_run_id bigint NOT NULL REFERENCES reconcile_runs (id) ON DELETE CASCADE,
    crm_customer_id  text NOT NULL,
    tier_id          uuid NOT NULL,
    membership_id    text NOT NULL DEFAULT '',
    email            text,
    tier_note        text,
    PRIMARY KEY (reconcile_run_id, crm_customer_id, tier_id, membership_id)
);

CREATE TABLE reconcile_differences (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reconcile_run_id bigint NOT NULL REFERENCES reconcile_runs (id) ON DELETE CASCADE,
    kind             text NOT NULL CHECK (kind IN ('missing_at_crm', 'extra_at_crm', 'wrong_tier',
                                                    'live_after_expiry', 'different_crm_id')),
    customer_id      uuid,          -- ours; NULL: a CRM customer we have no row for
    crm_customer_id  text,          -- the CRM's customer of the difference
    enrollment_id    uuid,          -- our active (or, for live_after_expiry, last) enrollment
    tier_id          uuid,          -- our enrollment's tier
    crm_tier_id      uuid,          -- the tier the CRM holds
    membership_id    text NOT NULL DEFAULT '',
    -- What makes the CRM match us (queue_add, queue_cancel, queue_upgrade), or us match
    -- the CRM (cancel_here, enroll_here, move_here, relink), or none (a person decides).
    repair           text NOT NULL CHECK (repair IN ('queue_add', 'queue_cancel', 'queue_upgrade',
                                                     'cancel_here', 'enroll_here', 'move_here', 'relink', 'none')),
    -- found (listed, not yet confirmed), confirmed (a dry run's, not repaired), repaired,
    -- gone (the confirming read no longer shows it), skipped (could not be repaired: detail).
    status           text NOT NULL DEFAULT 'found' CHECK (status IN ('found', 'confirmed', 'repaired', 'gone', 'skipped')),
    detail           text NOT NULL DEFAULT '',
    queue_id         bigint,
    repaired_at      timestamptz,
    UNIQUE NULLS NOT DISTINCT (reconcile_run_id, kind, customer_id, crm_customer_id, crm_tier_id)
);
CREATE INDEX reconcile_differences_open_idx ON reconcile_differences (reconcile_run_id, id) WHERE status = 'found';

-- +goose Down
DROP TABLE reconcile_differences;
DROP TABLE reconcile_crm_members;
DROP TABLE reconcile_runs;
DELETE FROM job_runs WHERE job_name = 'reconcile-memberships';
DELETE FROM enrollment_events WHERE cause = 'reconcile';
UPDATE enrollments SET source = 'admin' WHERE source = 'reconcile';
ALTER TABLE enrollment_events DROP CONSTRAINT enrollment_events_cause_check,
    ADD CONSTRAINT enrollment_events_cause_check CHECK (cause IN ('api', 'order', 'expiration', 'cli', 'admin', 'crm'));
ALTER TABLE enrollments DROP CONSTRAINT enrollments_source_check,
    ADD CONSTRAINT enrollments_source_check CHECK (source IN ('api', 'order', 'cli', 'crm', 'admin'));
ALTER TABLE job_runs DROP CONSTRAINT job_runs_job_name_check,
    ADD CONSTRAINT job_runs_job_name_check CHECK (job_name IN ('process-expired-enrollments', 'process-crm-sync-queue'));
ALTER TABLE clients DROP COLUMN drift_policy;
