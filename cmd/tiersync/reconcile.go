package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"

	"tiersync/internal/jobs"
	"tiersync/internal/reconcile"
	"tiersync/internal/schedule"
)

// runReconcile runs reconcile-memberships now, in this process, as a manual job run (what
// the weekly job does), for every client or one. The repairs it queues are run by the
// servers' workers, like every other row.
func runReconcile(ctx context.Context, e env, args []string) error {
	usage := "reconcile [--client ID] [--dry-run] [--json] [flags]\n\n" +
		"Compares each client's active enrollments with its CRM (Commerce7 memberships in the clubs\n" +
		"mapped to its tiers, Shopify customers carrying its tier tags), confirms each difference\n" +
		"with a read of that customer, and repairs it (through the queue, or here when the client's\n" +
		"drift_policy is crm_wins). A run stopped midway resumes at the next run. --dry-run finds\n" +
		"and confirms, and repairs nothing. Exits 1 when a client did not finish."
	var client *string
	var dry *bool
	o, pos, closeDB, err := openOps(ctx, e, "reconcile", usage, args, func(fs *flag.FlagSet) {
		client = fs.String("client", "", "reconcile this client only (its id)")
		dry = fs.Bool("dry-run", false, "find and confirm the differences, repair nothing")
	}, false)
	if err != nil {
		return err
	}
	defer closeDB()
	if len(pos) > 0 {
		return fmt.Errorf("reconcile takes no arguments, got %q", pos[0])
	}
	opts := reconcile.Options{ClientID: *client, DryRun: *dry}
	r, err := o.Scheduler.TriggerWith(ctx, schedule.JobReconcile, jobs.Reconcile(o.Reconciler, opts))
	if err != nil {
		return err
	}
	if o.asJSON {
		if err := printJSON(e.Stdout, r); err != nil {
			return err
		}
	} else {
		var res reconcile.Result
		_ = json.Unmarshal(r.Result, &res)
		fmt.Fprintf(e.Stdout, "run %d of %s: %s; %d client(s), %d repaired, dry run %t\n", r.ID, r.JobName, r.Status, res.Clients, res.Repaired, res.DryRun)
		rows := [][]string{}
		for _, k := range reconcile.Kinds {
			rows = append(rows, []string{k, strconv.Itoa(res.Differences[k])})
		}
		if err := table(e.Stdout, []string{"DIFFERENCE", "COUNT"}, rows); err != nil {
			return err
		}
		for _, c := range res.Runs {
			fmt.Fprintf(e.Stdout, "%s (%s): %s %s\n", c.Client, c.ClientID, c.Status, c.Error)
		}
	}
	if r.Status != schedule.StatusSucceeded {
		return fmt.Errorf("run %d failed: %s", r.ID, orDash(r.Error))
	}
	return nil
}
