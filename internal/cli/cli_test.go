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
