-- postpone_run records why the client's run stopped and when the sweep may resume it.
UPDATE reconcile_runs
SET error = @error, resume_after = now() + make_interval(secs => @wait_seconds)
WHERE id = @run_id AND finished_at IS NULL
