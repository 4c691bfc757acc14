// Package cli is the command-line plumbing both binaries share (tiersync, the production
// server and operator commands, and tiersync-dev, the demo, benches and CRM fakes): a
// table of subcommands, flag sets that report instead of exiting, --help on stdout, JSON
// logs, and exit codes.
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
	}
	fmt.Fprintf(w, "\nEvery setting is an environment variable and a flag of the same name (flags win);\n`%s <command> --help` lists a command's settings.\n", prog)
}

// NewFlagSet makes a subcommand's flag set that reports errors instead of exiting.
func NewFlagSet(e Env, prog, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(prog+" "+name, flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s %s\n\n", prog, synopsis)
		fs.PrintDefaults()
	}
	return fs
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
	if err := fs.Parse(args); err != nil {
		return ErrUsage
	}
	return nil
}

// NewLogger logs JSON lines to w at level (debug, info, warn, error; checked by config).
func NewLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
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
