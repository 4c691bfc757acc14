// Package cli is the command-line plumbing both binaries share (tiersync, the production
// server and operator commands, and tiersync-dev, the demo, benches and CRM fakes): a
// table of subcommands, flag sets that report instead of exiting, --help on stdout (each
// setting with its kind), flags matched whatever their case, logs in one format (LOG_FORMAT),
// and exit codes.
package cli

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
	"strings"
	"syscall"
	"tiersync/internal/config"
)

// Env is the process's view of the outside world, so tests can run subcommands in-process.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// Command is one subcommand.
type Command struct {
	Summary string
	// Details are lines the top-level help prints under the summary (a command's own
	// subcommands, e.g. every bench), so that they are found without a second --help.
	Details []string
	Run     func(ctx context.Context, e Env, args []string) error
}

// ErrUsage marks an error already explained by a usage message (exit code 2).
var ErrUsage = errors.New("usage")

// Run runs the subcommand args[0] of the program prog and returns the exit code: 0, 1 for
// an error, 2 for a usage error.
func Run(ctx context.Context, prog string, cmds map[string]Command, e Env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.Stdout, prog, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(e.Stderr, "%s: unknown command %q\n\n", prog, args[0])
		usage(e.Stderr, prog, cmds)
		return 2
	}
	err := cmd.Run(ctx, e, args[1:])
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		return 2
	}
	fmt.Fprintf(e.Stderr, "%s %s: %v\n", prog, args[0], err)
	return 1
}

func usage(w io.Writer, prog string, cmds map[string]Command) {
	fmt.Fprintf(w, "Usage: %s <command> [flags]\n\nCommands:\n", prog)
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, cmds[n].Summary)
		for _, d := range cmds[n].Details {
			fmt.Fprintf(w, "  %-9s   %s\n", "", d)
		}
	}
	fmt.Fprintf(w, "\nEvery setting is an environment variable and a flag of the same name (flags win);\n`%s <command> --help` lists a command's settings.\n", prog)
}

// NewFlagSet makes a subcommand's flag set that reports errors instead of exiting.
func NewFlagSet(e Env, prog, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(prog+" "+name, flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s %s\n\n", prog, synopsis)
		printFlags(fs.Output(), fs)
	}
	return fs
}

// printFlags is flag.PrintDefaults with each setting's kind (duration, number, url, …)
// instead of Go's "string": every setting is bound as a string so that its own parser
// checks it, which would otherwise make --help call WORKERS a string.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		if k := config.Kind(f.Name); k != "" {
			kind = k
		}
		line := "  -" + f.Name
		if kind != "" {
			line += " " + kind
		}
		fmt.Fprintf(w, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			fmt.Fprintf(w, " (default %q)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// Parse parses args; --help prints to stdout and is flag.ErrHelp (exit code 0).
func Parse(e Env, fs *flag.FlagSet, args []string) error {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fs.SetOutput(e.Stdout)
			fs.Usage()
			return flag.ErrHelp
		}
	}
	args, err := fold(fs, args)
	if err != nil {
		fmt.Fprintf(e.Stderr, "%s: %v\n", fs.Name(), err)
		return ErrUsage
	}
	if err := fs.Parse(args); err != nil {
		return ErrUsage
	}
	return nil
}

// boolFlag is the flag package's own test for a flag that takes no value.
type boolFlag interface{ IsBoolFlag() bool }

// fold rewrites each flag in args to the spelling fs defines, whatever its case
// (-workers, --Workers → -WORKERS): settings are upper case, command flags lower case, and
// an operator should not have to remember which. A flag that matches none is an error of
// one line naming the closest spelling, instead of the flag package's whole usage.
func fold(fs *flag.FlagSet, args []string) ([]string, error) {
	out := append([]string(nil), args...)
	for i := 0; i < len(out); i++ {
		a := out[i]
		if a == "--" || len(a) < 2 || a[0] != '-' {
			break // the flag package stops here too
		}
		dashes := "-"
		if strings.HasPrefix(a, "--") {
			dashes = "--"
		}
		name, value, hasValue := strings.Cut(a[len(dashes):], "=")
		f := fs.Lookup(name)
		if f == nil {
			fs.VisitAll(func(c *flag.Flag) {
				if f == nil && strings.EqualFold(c.Name, name) {
					f = c
				}
			})
		}
		if f == nil {
			if near := closest(fs, name); near != "" {
				return nil, fmt.Errorf("unknown flag %s%s: did you mean -%s? (--help lists them)", dashes, name, near)
			}
			return nil, fmt.Errorf("unknown flag %s%s (--help lists them)", dashes, name)
		}
		if hasValue {
			out[i] = dashes + f.Name + "=" + value
			continue
		}
		out[i] = dashes + f.Name
		if b, ok := f.Value.(boolFlag); !ok || !b.IsBoolFlag() {
			i++ // the next argument is this flag's value
		}
	}
	return out, nil
}

// closest is the flag of fs nearest to name (edit distance, case ignored), or "" when
// none is near enough to be what was meant.
func closest(fs *flag.FlagSet, name string) string {
	best, bestD := "", len(name)/2+2
	fs.VisitAll(func(f *flag.Flag) {
		if d := distance(strings.ToLower(name), strings.ToLower(f.Name)); d < bestD {
			best, bestD = f.Name, d
		}
	})
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// NewLogger logs JSON lines to w at level (debug, info, warn, error; checked by config).
func NewLogger(w io.Writer, level string) *slog.Logger {
	return NewLoggerFormat(w, level, "json")
}

// NewLoggerFormat logs to w at level in format: json (one object a line, what a log
// collector parses) or text (slog's key=value lines, what a person reads at a terminal).
func NewLoggerFormat(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// Logger is the logger of a command whose settings are cfg: LOG_LEVEL and LOG_FORMAT.
func Logger(w io.Writer, cfg *config.Config) *slog.Logger {
	return NewLoggerFormat(w, cfg.LogLevel, cfg.LogFormat)
}

// Settings binds the settings of groups on fs (each defaulting to its environment
// variable), parses args and returns the checked configuration: the first lines of every
// command that takes settings.
func Settings(e Env, fs *flag.FlagSet, args []string, groups ...config.Group) (*config.Config, error) {
	load := config.Bind(fs, e.Getenv, groups...)
	if err := Parse(e, fs, args); err != nil {
		return nil, err
	}
	return load()
}

// Main runs program prog's subcommand from os.Args with the process's streams and
// environment, cancelling its context on SIGINT or SIGTERM, and exits with its code.
func Main(prog string, cmds map[string]Command) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, prog, cmds, Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}
