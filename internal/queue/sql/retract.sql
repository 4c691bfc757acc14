-- retract puts the lanes a claim found empty to sleep until their next row can run. It is
-- its own statement, after the claim: see crm_queue_lanes_retract (migration 00018) for why.
SELECT crm_queue_lanes_retract(@rate_keys::text[], @priorities::smallint[], coalesce(@now::timestamptz, now()))
