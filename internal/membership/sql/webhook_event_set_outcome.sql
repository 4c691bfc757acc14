-- Records what a webhook turned out to do, once that is known: a change the CRM sent that
-- matched nothing of ours is ignored, after its event row was written to deduplicate it;
-- @error says why, when it is worth an operator's look (else null).
UPDATE webhook_events
SET outcome = @outcome,
    error   = @error
WHERE id = @id
