-- Indexes for confirming differences one by one over a big client's run: the listing's
-- rows of a customer, by CRM id (the primary key) or by email (a customer of ours under
-- another CRM id); and the next difference to confirm, unknown CRM customers first
-- (next_found.sql), without sorting every open difference each time.
-- +goose Up
CREATE INDEX reconcile_crm_members_email_idx ON reconcile_crm_members (reconcile_run_id, lower(email)) WHERE email IS NOT NULL;
DROP INDEX reconcile_differences_open_idx;
CREATE INDEX reconcile_differences_open_idx ON reconcile_differences (reconcile_run_id, (customer_id IS NULL) DESC, id)
    WHERE status = 'found';

-- +goose Down
DROP INDEX reconcile_differences_open_idx;
CREATE INDEX reconcile_differences_open_idx ON reconcile_differences (reconcile_run_id, id) WHERE status = 'found';
DROP INDEX reconcile_crm_members_email_idx;
