package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"tiersync/internal/app"
	"tiersync/internal/cli"
	"tiersync/internal/config"
	"tiersync/internal/queue"
	"tiersync/internal/schedule"
)

// opsEnv is what the operator commands share: the settings and the core (pool, store,
// engine not started — the commands run rows, if at all, inside themselves — scheduler).
type opsEnv struct {
	*app.Core
	cfg    *config.Config
	asJSON bool
}

// openOps parses flags (the command's own, added by setup, plus every setting) and builds
// the core. The commands take the server's settings (CRM credentials for `sync`, schedules
// and alerts for `cron`), but not its token. Only `sync` runs rows: the others get a
// handler that refuses to, and log errors only (no CRM warnings on every `queue ls`).
func openOps(ctx context.Context, e env, name, synopsis string, args []string, setup func(fs *flag.FlagSet), runsRows bool) (*opsEnv, []string, func(), error) {
	fs := newFlagSet(e, name, synopsis)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if setup != nil {
		setup(fs)
	}
	load := config.Bind(fs, e.Getenv, config.Database, config.Server)
	// The operator commands need the database alone; the token is serve's.
	config.MarkRequired(fs, config.EnvDatabaseURL)
	// Positional arguments may come before the flags (`queue show 42 --json`).
	var pos []string
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		pos, args = append(pos, args[0]), args[1:]
	}
	if err := cli.Parse(e, fs, args); err != nil {
		return nil, nil, nil, err
	}
	pos = append(pos, fs.Args()...)
	cfg, err := load()
	if err != nil {
		return nil, nil, nil, err
	}
	if cfg.DatabaseURL == "" {
		return nil, nil, nil, fmt.Errorf("%s is required", config.EnvDatabaseURL)
	}
	opts := app.CoreOptions{RunnerPrefix: "cli-"}
	level := "error"
	if runsRows {
		level = cfg.LogLevel
	} else {
		opts.Handler = func(context.Context, queue.Job) error {
			return errors.New("this command runs no queue rows")
		}
	}
	core, err := app.NewCore(ctx, cfg, cli.NewLoggerFormat(e.Stderr, level, cfg.LogFormat), opts)
	if err != nil {
		return nil, nil, nil, err
	}
	return &opsEnv{Core: core, cfg: cfg, asJSON: *asJSON}, pos, core.Close, nil
}

// groupUsage answers a command of verbs (`tiersync queue`, `tiersync queue --help`): the
// verbs, and with --help the settings every verb reads too, so that the command's help
// lists its settings like every other command's. done is false when args name a verb.
func groupUsage(e env, name, usage string, args []string) (done bool, err error) {
	if len(args) > 0 && args[0] != "-h" && args[0] != "--help" {
		return false, nil
	}
	if len(args) == 0 {
		fmt.Fprintln(e.Stdout, "Usage: tiersync "+usage)
		return true, cli.ErrUsage
	}
	fs := newFlagSet(e, name, usage)
	fs.Bool("json", false, "print JSON instead of a table")
	config.Bind(fs, e.Getenv, config.Database, config.Server)
	config.MarkRequired(fs, config.EnvDatabaseURL)
	return true, cli.Parse(e, fs, []string{"--help"})
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table prints aligned columns.
func table(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func orDash(s *string) string {
	if s == nil || *s == "" {
		return "-"
	}
	return *s
}

func short(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > n {
		return s[:n-1] + "…"
	}
	return s
}

func when(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

func runQueue(ctx context.Context, e env, args []string) error {
	usage := "queue ls [--status S] [--action A] [--client ID] [--limit N] | show ID | retry ID [--reset] | retry --failed [--client ID] [--reset] | cancel ID | stats   [--json]"
	if done, err := groupUsage(e, "queue", usage, args); done {
		return err
	}
	verb := args[0]
	var status, action, client *string
	var limit *int
	var reset, failed *bool
	o, pos, closeDB, err := openOps(ctx, e, "queue "+verb, usage, args[1:], func(fs *flag.FlagSet) {
		status = fs.String("status", "", "ls: only rows in this status")
		action = fs.String("action", "", "ls: only rows of this action_type")
		client = fs.String("client", "", "ls, retry --failed: only this client's rows")
		limit = fs.Int("limit", 50, "ls: at most this many rows")
		reset = fs.Bool("reset", false, "retry: give the row(s) all their attempts back")
		failed = fs.Bool("failed", false, "retry: every failed row (of --client)")
	}, false)
	if err != nil {
		return err
	}
	defer closeDB()
	id := func() (int64, error) {
		if len(pos) != 1 {
			return 0, fmt.Errorf("queue %s needs one row id", verb)
		}
		n, err := strconv.ParseInt(pos[0], 10, 64)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("%q is not a queue row id", pos[0])
		}
		return n, nil
	}
	printRow := func(it queue.Item) error {
		if o.asJSON {
			return printJSON(e.Stdout, it)
		}
		// One row's error is printed whole, on lines of its own: it is what the operator
		// came for, and a CRM's answer cut at 80 characters loses the part that says why.
		if err := table(e.Stdout, []string{"ID", "STATUS", "ACTION", "ATTEMPTS", "NEXT RETRY"},
			[][]string{{strconv.FormatInt(it.ID, 10), it.Status, it.ActionType, fmt.Sprintf("%d/%d", it.Attempts, it.MaxAttempts),
				when(it.NextRetryAt)}}); err != nil {
			return err
		}
		if it.ErrorMessage != nil && *it.ErrorMessage != "" {
			fmt.Fprintf(e.Stdout, "\nerror: %s\n", *it.ErrorMessage)
		}
		return nil
	}
	switch verb {
	case "ls":
		items, _, err := o.Engine.List(ctx, queue.Filter{Status: *status, ActionType: *action, ClientID: *client}, max(1, min(*limit, 500)), "")
		if err != nil {
			return err
		}
		if o.asJSON {
			if items == nil {
				items = []queue.Item{}
			}
			return printJSON(e.Stdout, items)
		}
		rows := make([][]string, 0, len(items))
		for _, it := range items {
			rows = append(rows, []string{strconv.FormatInt(it.ID, 10), it.Status, it.ActionType, fmt.Sprintf("%d/%d", it.Attempts, it.MaxAttempts),
				when(it.NextRetryAt), short(orDash(it.ErrorMessage), 80)})
		}
		return table(e.Stdout, []string{"ID", "STATUS", "ACTION", "ATTEMPTS", "NEXT RETRY", "ERROR"}, rows)
	case "show":
		n, err := id()
		if err != nil {
			return err
		}
		it, history, err := o.Engine.Get(ctx, n)
		if err != nil {
			return err
		}
		if o.asJSON {
			if history == nil {
				history = []queue.Attempt{}
			}
			return printJSON(e.Stdout, map[string]any{"item": it, "history": history})
		}
		if err := printRow(it); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "\nclient %s  customer %s  tier %s  created %s\n\n", it.ClientID, it.CustomerID, it.TierID, when(it.CreatedAt))
		rows := make([][]string, 0, len(history))
		for _, a := range history {
			st := "-"
			if a.HTTPStatus != nil {
				st = strconv.Itoa(*a.HTTPStatus)
			}
			rows = append(rows, []string{strconv.Itoa(a.Attempt), when(a.StartedAt), a.Outcome, st, a.Worker})
		}
		if err := table(e.Stdout, []string{"ATTEMPT", "STARTED", "OUTCOME", "HTTP", "WORKER"}, rows); err != nil {
			return err
		}
		// Each attempt's error whole, after the table: a tab-aligned column would stretch
		// every row to the longest message.
		for _, a := range history {
			if a.Error != nil && *a.Error != "" {
				fmt.Fprintf(e.Stdout, "attempt %d: %s\n", a.Attempt, *a.Error)
			}
		}
		return nil
	case "retry":
		if *failed {
			n, err := o.Engine.RetryFailed(ctx, queue.Filter{ClientID: *client}, *reset)
			if err != nil {
				return err
			}
			if o.asJSON {
				return printJSON(e.Stdout, map[string]int64{"retried": n})
			}
			fmt.Fprintf(e.Stdout, "retried %d failed row(s)\n", n)
			return nil
		}
		n, err := id()
		if err != nil {
			return err
		}
		it, err := o.Engine.Retry(ctx, n, *reset)
		if err != nil {
			return err
		}
		return printRow(it)
	case "cancel":
		n, err := id()
		if err != nil {
			return err
		}
		it, err := o.Engine.Cancel(ctx, n)
		if err != nil {
			return err
		}
		return printRow(it)
	case "stats":
		st, err := o.Engine.Stats(ctx)
		if err != nil {
			return err
		}
		if o.asJSON {
			return printJSON(e.Stdout, st)
		}
		var rows [][]string
		for _, s := range queue.Statuses {
			rows = append(rows, []string{"status", s, strconv.FormatInt(st.ByStatus[s], 10)})
		}
		for _, a := range queue.Actions {
			rows = append(rows, []string{"action", a, strconv.FormatInt(st.ByAction[a], 10)})
		}
		rows = append(rows, []string{"oldest pending", "seconds", strconv.FormatInt(st.OldestPendingSeconds, 10)})
		return table(e.Stdout, []string{"BY", "NAME", "ROWS"}, rows)
	}
	return fmt.Errorf("unknown queue command %q (ls, show, retry, cancel, stats)", verb)
}

// runSync drains the queue from the command line: due rows run inside this process
// through the real syncer, 50 at a time, until none is due (--once: one batch).
func runSync(ctx context.Context, e env, args []string) error {
	var once *bool
	o, _, closeDB, err := openOps(ctx, e, "sync", "sync [--once] [--json]\n\nRuns due queue rows now through the CRMs, 50 at a time, until none is due.", args,
		func(fs *flag.FlagSet) { once = fs.Bool("once", false, "run one batch of at most 50 rows") }, true)
	if err != nil {
		return err
	}
	defer closeDB()
	var total queue.RunResult
	for {
		res, err := o.Engine.RunDue(ctx, 50)
		if err != nil {
			return err
		}
		total.Processed += res.Processed
		total.Succeeded += res.Succeeded
		total.Failed += res.Failed
		if *once || res.Processed == 0 {
			break
		}
	}
	if o.asJSON {
		return printJSON(e.Stdout, total)
	}
	fmt.Fprintf(e.Stdout, "processed %d: %d succeeded, %d failed or waiting to retry\n", total.Processed, total.Succeeded, total.Failed)
	return nil
}

func runCron(ctx context.Context, e env, args []string) error {
	usage := "cron ls | run NAME   [--json]\n\n  ls    the jobs, their schedules, next and last runs, and the newest runs\n  run   run a job now (process-expired-enrollments, process-crm-sync-queue, reconcile-memberships) as a manual run"
	if done, err := groupUsage(e, "cron", usage, args); done {
		return err
	}
	verb := args[0]
	o, pos, closeDB, err := openOps(ctx, e, "cron "+verb, usage, args[1:], nil, false)
	if err != nil {
		return err
	}
	defer closeDB()
	sched := o.Scheduler
	switch verb {
	case "ls":
		list, err := sched.Jobs(ctx)
		if err != nil {
			return err
		}
		runs, err := sched.Runs(ctx, 20)
		if err != nil {
			return err
		}
		if o.asJSON {
			return printJSON(e.Stdout, map[string]any{"jobs": list, "runs": runs})
		}
		var rows [][]string
		for _, j := range list {
			next, last := "-", "-"
			if j.NextRunAt != nil {
				next = when(*j.NextRunAt)
			}
			if j.LastRun != nil {
				last = when(j.LastRun.StartedAt) + " " + j.LastRun.Status
			}
			rows = append(rows, []string{j.Name, j.Schedule, strconv.FormatBool(j.Enabled), next, last})
		}
		if err := table(e.Stdout, []string{"JOB", "SCHEDULE", "ENABLED", "NEXT RUN", "LAST RUN"}, rows); err != nil {
			return err
		}
		fmt.Fprintln(e.Stdout)
		rows = rows[:0]
		for _, r := range runs {
			rows = append(rows, []string{strconv.FormatInt(r.ID, 10), r.JobName, r.Trigger, when(r.StartedAt), r.Status, short(runResult(r), 70)})
		}
		return table(e.Stdout, []string{"RUN", "JOB", "TRIGGER", "STARTED", "STATUS", "RESULT"}, rows)
	case "run":
		if len(pos) != 1 {
			return fmt.Errorf("cron run needs a job name (%s, %s or %s)", schedule.JobExpire, schedule.JobSync, schedule.JobReconcile)
		}
		r, err := sched.Trigger(ctx, pos[0])
		if err != nil {
			return err
		}
		if o.asJSON {
			if err := printJSON(e.Stdout, r); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(e.Stdout, "run %d of %s: %s %s\n", r.ID, r.JobName, r.Status, runResult(r))
		}
		if r.Status != schedule.StatusSucceeded {
			return fmt.Errorf("run %d failed", r.ID)
		}
		return nil
	}
	return fmt.Errorf("unknown cron command %q (ls, run)", verb)
}

// runResult is what a run produced: its result, its error, both, or "-" for neither (a
// run still going). Concatenating the two printed a stray "-" after every result.
func runResult(r schedule.Run) string {
	var parts []string
	if len(r.Result) > 0 && string(r.Result) != "null" {
		parts = append(parts, string(r.Result))
	}
	if r.Error != nil && *r.Error != "" {
		parts = append(parts, *r.Error)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}
