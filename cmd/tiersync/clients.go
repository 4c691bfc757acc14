package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"tiersync/internal/cli"
	"tiersync/internal/membership"
)

// errCheckFailed makes `clients check` exit 1 after it printed why: a script (a deploy's
// smoke test) reads the exit code, an operator the line.
var errCheckFailed = errors.New("the connection check failed")

// runClients is `tiersync clients check ID`: one cheap authenticated read at the client's
// CRM with this deployment's settings (what POST /api/clients/{id}/check does).
func runClients(ctx context.Context, e env, args []string) error {
	usage := "clients check ID   [--json]\n\n  check   one cheap authenticated read at the client's CRM: exit 0 when it answers, 1 with why when not"
	if done, err := groupUsage(e, "clients", usage, args); done {
		return err
	}
	verb := args[0]
	if verb != "check" {
		return fmt.Errorf("%w: unknown clients command %q (check)", cli.ErrUsage, verb)
	}
	o, pos, closeDB, err := openOps(ctx, e, "clients check", usage, args[1:], nil, false)
	if err != nil {
		return err
	}
	defer closeDB()
	if len(pos) != 1 {
		return fmt.Errorf("%w: clients check needs one client id", cli.ErrUsage)
	}
	c, err := o.Store.GetClient(ctx, pos[0])
	if err != nil {
		return err
	}
	checkErr := o.CheckClient(ctx, c)
	if o.asJSON {
		out := map[string]any{"client_id": c.ID, "ok": checkErr == nil}
		if checkErr != nil {
			out["error"] = checkErr.Error()
		}
		if err := printJSON(e.Stdout, out); err != nil {
			return err
		}
	} else if checkErr == nil {
		fmt.Fprintf(e.Stdout, "ok: %s (%s %s) answered\n", c.Name, c.CRMType, c.Tenant)
	} else {
		fmt.Fprintf(e.Stdout, "failed: %s (%s %s): %s\n", c.Name, c.CRMType, c.Tenant, checkErr)
	}
	if checkErr != nil {
		return errCheckFailed
	}
	return nil
}

// runShopify is `tiersync shopify webhooks ID`: subscribes the client's shop to the
// webhooks tiersync needs, at PUBLIC_URL/webhooks/shopify (what
// POST /api/clients/{id}/shopify/webhooks does); running it again subscribes nothing new.
func runShopify(ctx context.Context, e env, args []string) error {
	usage := "shopify webhooks ID   [--json]\n\n  webhooks   subscribe the shop to orders/paid, orders/create and app/uninstalled at PUBLIC_URL/webhooks/shopify"
	if done, err := groupUsage(e, "shopify", usage, args); done {
		return err
	}
	verb := args[0]
	if verb != "webhooks" {
		return fmt.Errorf("%w: unknown shopify command %q (webhooks)", cli.ErrUsage, verb)
	}
	o, pos, closeDB, err := openOps(ctx, e, "shopify webhooks", usage, args[1:], nil, false)
	if err != nil {
		return err
	}
	defer closeDB()
	if len(pos) != 1 {
		return fmt.Errorf("%w: shopify webhooks needs one client id", cli.ErrUsage)
	}
	c, err := o.Store.GetClient(ctx, pos[0])
	if err != nil {
		return err
	}
	if c.CRMType != membership.CRMShopify {
		return fmt.Errorf("client %s is a %s client, not a Shopify one", c.ID, c.CRMType)
	}
	if o.Shopify == nil {
		return errors.New("TIERSYNC_SECRET_KEY is required to read the shop's credentials")
	}
	created, err := o.Shopify.RegisterWebhooks(ctx, c.ID, o.cfg.PublicURL)
	if err != nil {
		return err
	}
	if created == nil {
		created = []string{}
	}
	if o.asJSON {
		return printJSON(e.Stdout, map[string]any{"client_id": c.ID, "created": created})
	}
	if len(created) == 0 {
		fmt.Fprintf(e.Stdout, "%s: every webhook was subscribed already\n", c.Tenant)
		return nil
	}
	fmt.Fprintf(e.Stdout, "%s: subscribed %s\n", c.Tenant, strings.Join(created, ", "))
	return nil
}
