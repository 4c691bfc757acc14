package alert

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/crm"
	"tiersync/internal/db"
	"tiersync/internal/shopifyapp"
)

// KindConnections is the alert of Shopify connections that need an operator.
const KindConnections = "shopify_connections"

// Connections lists the Shopify connections' states (shopifyapp.Store). The alerter reads
// them through this, never from shopify_connections, which it does not own.
type Connections interface {
	Statuses(ctx context.Context) ([]shopifyapp.Status, error)
}

// maxConnectionLines bounds one alert's list; the rest are counted.
const maxConnectionLines = 10

// connections reports the connections that turned refresh_failing or uninstalled since
// they were last reported: once per connection and state change (a connection that
// recovers and fails again is a new change), not once per interval, since each such
// change holds a winery's rows until someone acts. It returns KindConnections when it
// delivered.
func (a *Alerter) connections(ctx context.Context, now time.Time) (string, error) {
	if a.cfg.Connections == nil {
		return "", nil
	}
	states, err := a.cfg.Connections.Statuses(ctx)
	if err != nil {
		return "", fmt.Errorf("alert %s: %w", KindConnections, err)
	}
	var bad []shopifyapp.Status
	for _, st := range states {
		if st.State == shopifyapp.StateRefreshFailing || st.State == shopifyapp.StateUninstalled {
			bad = append(bad, st)
		}
	}
	if len(bad) == 0 {
		return "", nil
	}
	delivered := false
	err = db.InTx(ctx, a.pool, func(tx pgx.Tx) error {
		var fresh []shopifyapp.Status
		for _, st := range bad {
			var id string
			err := tx.QueryRow(ctx, qClaimConnection, pgx.StrictNamedArgs{"client_id": st.ClientID, "state": st.State,
				"state_changed_at": st.Since, "delivered_at": now}).Scan(&id)
			if errors.Is(err, pgx.ErrNoRows) {
				continue // this state change was reported already
			}
			if err != nil {
				return fmt.Errorf("alert %s: claim %s: %w", KindConnections, st.Shop, err)
			}
			fresh = append(fresh, st)
		}
		if len(fresh) == 0 {
			return nil
		}
		// Delivered before the commit: a failed delivery rolls the claims back.
		if err := a.deliver(ctx, KindConnections, connectionsText(fresh)); err != nil {
			return err
		}
		delivered = true
		return nil
	})
	if err != nil || !delivered {
		return "", err
	}
	return KindConnections, nil
}

// connectionsText says which shops need what: a failing token request needs new
// credentials (or the app's configuration fixed), an uninstall needs the merchant.
func connectionsText(fresh []shopifyapp.Status) string {
	lines := []string{fmt.Sprintf("tiersync: %d Shopify connection(s) need an operator; their wineries' rows wait until then:", len(fresh))}
	for i, st := range fresh {
		if i == maxConnectionLines {
			lines = append(lines, fmt.Sprintf("… and %d more (GET /api/clients)", len(fresh)-i))
			break
		}
		since := st.Since.UTC().Format(time.RFC3339)
		switch st.State {
		case shopifyapp.StateUninstalled:
			lines = append(lines, fmt.Sprintf("• %s (client %s) was uninstalled at %s: the merchant must install the app again",
				st.Shop, st.ClientID, since))
		default:
			why := crm.CleanText(st.Error, 300)
			if why == "" {
				why = "no reason recorded"
			}
			lines = append(lines, fmt.Sprintf("• %s (client %s, %s) cannot get a token since %s: %s. Fix its credentials "+
				"(PATCH /api/clients/%s), then POST /api/clients/%s/check", st.Shop, st.ClientID, st.Auth, since, why, st.ClientID, st.ClientID))
		}
	}
	return strings.Join(lines, "\n")
}
