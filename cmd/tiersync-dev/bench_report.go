package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"tiersync/internal/cli"
	"time"
)

const reportBegin, reportEnd = "<!-- make bench: begin -->", "<!-- make bench: end -->"

// benchReport turns the JSON lines of a `make bench` run into a section of
// docs/benchmarks.md (between its markers; appended the first time).
func benchReport(_ context.Context, e env, args []string) error {
	fs := newFlagSet(e, "bench report", "bench report --in FILE --doc docs/benchmarks.md [--machine TEXT]")
	in := fs.String("in", "artifacts/bench.jsonl", "the benches' JSON lines")
	doc := fs.String("doc", "docs/benchmarks.md", "the document whose `make bench` section to rewrite")
	machine := fs.String("machine", "", "a line describing the machine")
	if err := cli.Parse(e, fs, args); err != nil {
		return err
	}
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n## Latest `make bench` (%s)\n\n", reportBegin, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	if *machine == "" {
		*machine = fmt.Sprintf("%d CPUs, %s", runtime.NumCPU(), runtime.Version())
	}
	fmt.Fprintf(&b, "Machine: %s.\n\n| bench | figures |\n|---|---|\n", *machine)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			if k != "bench" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s %v", k, m[k]))
		}
		fmt.Fprintf(&b, "| %v | %s |\n", m["bench"], strings.Join(parts, ", "))
	}
	b.WriteString(reportEnd + "\n")
	old, err := os.ReadFile(*doc)
	if err != nil {
		return err
	}
	text := string(old)
	if i, j := strings.Index(text, reportBegin), strings.Index(text, reportEnd); i >= 0 && j > i {
		text = text[:i] + b.String() + text[j+len(reportEnd)+1:]
	} else {
		text = strings.TrimRight(text, "\n") + "\n\n" + b.String()
	}
	return os.WriteFile(*doc, []byte(text), 0o644)
}
