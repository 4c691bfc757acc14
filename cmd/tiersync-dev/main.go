// Command tiersync-dev is what a developer runs beside tiersync: the demo (a private
// PostgreSQL, the CRM fakes, a server and a story), the benchmarks, and the fake
// Commerce7 and Shopify APIs for outside test suites. It is never deployed; the
// production binary (cmd/tiersync) links none of it. See `tiersync-dev --help`.
package main

import (
	"context"
	"flag"

	"tiersync/internal/cli"
)

type env = cli.Env

func commands() map[string]cli.Command {
	return map[string]cli.Command{
		"demo":    {Summary: "start a private database, the CRM fakes and a server, and play a story", Run: runDemo},
		"bench":   {Summary: "run a benchmark and print one JSON line:", Details: benchDetails(), Run: runBench},
		"fakecrm": {Summary: "serve fake Commerce7 (and Shopify) APIs for the demo and outside tests", Run: runFakeCRM},
	}
}

func main() { cli.Main("tiersync-dev", commands()) }

func run(ctx context.Context, e env, args []string) int {
	return cli.Run(ctx, "tiersync-dev", commands(), e, args)
}

func newFlagSet(e env, name, synopsis string) *flag.FlagSet {
	return cli.NewFlagSet(e, "tiersync-dev", name, synopsis)
}
