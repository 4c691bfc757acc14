package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"

	"tiersync/internal/config"
)

func TestRun(t *testing.T) {
	cmds := map[string]Command{
		"ok":    {Summary: "succeeds", Run: func(context.Context, Env, []string) error { return nil }},
		"fails": {Summary: "fails", Run: func(context.Context, Env, []string) error { return errors.New("boom") }},
		"usage": {Summary: "misused", Run: func(context.Context, Env, []string) error { return ErrUsage }},
		"help":  {Summary: "asks for help", Run: func(context.Context, Env, []string) error { return flag.ErrHelp }},
	}
	cases := []struct {
		args   []string
		code   int
		output string
	}{
		{nil, 2, "Usage: prog <command>"},
		{[]string{"--help"}, 0, "fails"},
		{[]string{"ok"}, 0, ""},
		{[]string{"fails"}, 1, "prog fails: boom"},
		{[]string{"usage"}, 2, ""},
		{[]string{"help"}, 0, ""},
		{[]string{"nope"}, 2, `unknown command "nope"`},
	}
	for _, c := range cases {
		var out bytes.Buffer
		code := Run(context.Background(), "prog", cmds, Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}, c.args)
		if code != c.code || !strings.Contains(out.String(), c.output) {
			t.Errorf("%v: exit %d, output %q; want %d containing %q", c.args, code, out.String(), c.code, c.output)
		}
	}
}

func TestSettings(t *testing.T) {
	env := func(k string) string {
		return map[string]string{"DATABASE_URL": "postgres://env/db", "LOG_LEVEL": "warn"}[k]
	}
	var out bytes.Buffer
	e := Env{Stdout: &out, Stderr: &out, Getenv: env}
	cfg, err := Settings(e, NewFlagSet(e, "prog", "x", "x"), []string{"-LOG_LEVEL", "error"}, config.Database)
	if err != nil || cfg.DatabaseURL != "postgres://env/db" || cfg.LogLevel != "error" {
		t.Fatalf("settings %+v %v: want the environment's URL and the flag's level", cfg, err)
	}
	if _, err := Settings(e, NewFlagSet(e, "prog", "x", "x"), []string{"-NOPE"}, config.Database); !errors.Is(err, ErrUsage) {
		t.Fatalf("an unknown flag: %v, want ErrUsage", err)
	}
	if _, err := Settings(e, NewFlagSet(e, "prog", "x", "x"), []string{"--help"}, config.Database); !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "-DATABASE_URL") {
		t.Fatalf("--help: %v, output %q", err, out.String())
	}
}

// TestFlagsAnyCase: settings are upper case and command flags lower case; either is
// accepted in any case, and a flag that matches none is one line naming the closest.
func TestFlagsAnyCase(t *testing.T) {
	cases := []struct {
		args    []string
		workers string
		json    bool
		err     string // the one line on stderr; "" for none
	}{
		{[]string{"-WORKERS", "4"}, "4", false, ""},
		{[]string{"-workers", "4", "--JSON"}, "4", true, ""},
		{[]string{"--Workers=7", "-json"}, "7", true, ""},
		{[]string{"-json", "-workers", "-3"}, "-3", true, ""}, // a value that starts with - is still the value
		{[]string{"-wokers", "4"}, "", false, "prog x: unknown flag -wokers: did you mean -WORKERS? (--help lists them)\n"},
		{[]string{"--frobnicate"}, "", false, "prog x: unknown flag --frobnicate (--help lists them)\n"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			e := Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
			fs := NewFlagSet(e, "prog", "x", "x")
			workers := fs.String("WORKERS", "", "workers")
			asJSON := fs.Bool("json", false, "json")
			err := Parse(e, fs, c.args)
			if c.err != "" {
				if !errors.Is(err, ErrUsage) || errOut.String() != c.err {
					t.Fatalf("error %v, stderr %q; want ErrUsage and %q", err, errOut.String(), c.err)
				}
				return
			}
			if err != nil || *workers != c.workers || *asJSON != c.json {
				t.Fatalf("err %v, WORKERS %q, json %v; want %q, %v (stderr %q)", err, *workers, *asJSON, c.workers, c.json, errOut.String())
			}
		})
	}
}

// TestHelpShowsKinds: --help names what each setting takes (Go would call every one a
// string) and marks required only what the command marked.
func TestHelpShowsKinds(t *testing.T) {
	var out bytes.Buffer
	e := Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}
	fs := NewFlagSet(e, "prog", "x", "x")
	config.Bind(fs, e.Getenv, config.Database, config.Server)
	config.MarkRequired(fs, config.EnvDatabaseURL)
	if err := Parse(e, fs, []string{"--help"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatal(err)
	}
	help := out.String()
	for _, want := range []string{"-WORKERS number\n", "-QUEUE_LEASE duration\n", "-DATABASE_URL url\n", "-COOKIE_SECURE bool\n",
		"-SCHEDULE_SYNC cron|off\n", "-LOG_FORMAT json|text\n", "[env DATABASE_URL] (required)"} {
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	if strings.Contains(help, "-WORKERS string") || strings.Count(help, "(required)") != 1 {
		t.Errorf("--help calls a number a string, or marks more than DATABASE_URL required:\n%s", help)
	}
}
