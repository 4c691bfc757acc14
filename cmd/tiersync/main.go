// Command tiersync keeps wine-club tier memberships in sync between PostgreSQL and each
// winery's CRM (Commerce7 or Shopify): the server and the commands an operator needs. It
// links no test code and no CRM fake; the demo, benchmarks and fakes are tiersync-dev.
// See `tiersync --help`.
package main

import (
	"context"
	"flag"

	"tiersync/internal/cli"
)

type env = cli.Env

func commands() map[string]cli.Command {
	return map[string]cli.Command{
		"serve":     {Summary: "serve the HTTP API and run the sync workers", Run: runServe},
		"migrate":   {Summary: "apply or roll back database migrations: up, down, status", Run: runMigrate},
		"expire":    {Summary: "expire enrollments past their end now (what the nightly job does), or --dry-run", Run: runExpire},
		"queue":     {Summary: "inspect and steer the queue: ls, show, retry, cancel, stats", Run: runQueue},
		"sync":      {Summary: "run due queue rows now through the CRMs and exit", Run: runSync},
		"cron":      {Summary: "the scheduled jobs: ls, run NAME", Run: runCron},
		"reconcile": {Summary: "compare every client's memberships with its CRM now and repair the differences (--client, --dry-run)", Run: runReconcile},
		"clients":   {Summary: "check a client's CRM connection: check ID", Run: runClients},
		"shopify":   {Summary: "a Shopify client's shop: webhooks ID (subscribe its webhooks at PUBLIC_URL)", Run: runShopify},
	}
}

func main() { cli.Main("tiersync", commands()) }

func run(ctx context.Context, e env, args []string) int {
	return cli.Run(ctx, "tiersync", commands(), e, args)
}

func newFlagSet(e env, name, synopsis string) *flag.FlagSet {
	return cli.NewFlagSet(e, "tiersync", name, synopsis)
}
