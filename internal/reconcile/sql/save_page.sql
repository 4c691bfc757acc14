-- save_page moves the run to the next page's cursor, in the transaction that stored the
-- page's members: a run that dies resumes at the page after the last one saved. Nothing
-- when the run is no longer at @cursor (another process moved it on).
UPDATE reconcile_runs
SET cursor = @next, pages = pages + 1,
    listed = listed + @listed,
    status = CASE WHEN @next = '' THEN 'checking' ELSE status END
WHERE id = @run_id AND cursor = @cursor AND status = 'listing'
