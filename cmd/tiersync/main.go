// Command tiersync keeps wine-club tier memberships in sync between PostgreSQL and each
// winery's CRM (Commerce7 or Shopify). See `tiersync --help`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// env is the process's view of the outside world, so tests can run subcommands in-process.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

type command struct {
	summary string
	run     func(ctx context.Context, e env, args []string) error
}

func commands() map[string]command {
	return map[string]command{
		"serve":   {"serve the HTTP API and run the sync workers", runServe},
		"migrate": {"apply or roll back database migrations: up, down, status", runMigrate},
		"demo":    {"start a private database and a server to try tiersync locally", runDemo},
		"bench":   {"run a benchmark and print one JSON line: queue", runBench},
		"expire":  {"expire enrollments past their end now (what the nightly job does), or --dry-run", runExpire},
		"queue":   {"inspect and steer the queue: ls, show, retry, cancel, stats", runQueue},
		"sync":    {"run due queue rows now through the CRMs and exit", runSync},
		"cron":    {"the scheduled jobs: ls, run NAME", runCron},
		"fakecrm": {"serve fake Commerce7 (and Shopify) APIs for the demo and outside tests", runFakeCRM},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:]))
}

// errUsage marks an error already explained by a usage message.
var errUsage = errors.New("usage")

func run(ctx context.Context, e env, args []string) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stdout, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "tiersync: unknown command %q\n\n", args[0])
		usage(e.stderr, cmds)
		return 2
	}
	err := cmd.run(ctx, e, args[1:])
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintf(e.stderr, "tiersync %s: %v\n", args[0], err)
	return 1
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "Usage: tiersync <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nEvery setting is an environment variable and a flag of the same name (flags win);\n`tiersync <command> --help` lists a command's settings.")
}

// newFlagSet makes a subcommand's flag set that reports errors instead of exiting.
func newFlagSet(e env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("tiersync "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: tiersync %s\n\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args; --help prints to stdout and is not an error.
func parse(e env, fs *flag.FlagSet, args []string) error {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fs.SetOutput(e.stdout)
			fs.Usage()
			return flag.ErrHelp
		}
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	return nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level)) // checked by config
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}
