package queue

// What a privacy request (internal/privacy) needs of the queue, in the caller's
// transaction and in the queue's own terms: rows are found by the keys written on them,
// never through the domain's tables.

import (
	"context"
	_ "embed" // the statements below
	"fmt"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/db"
)

var (
	//go:embed sql/scrub_errors.sql
	sqlScrubErrors string
	//go:embed sql/cancel_order_keys.sql
	sqlCancelOrderKeys string
	//go:embed sql/forget_rate_key.sql
	sqlForgetRateKey string
)

// ScrubErrors replaces each of needles, in any case, by "[redacted]" in the error texts
// of the rows of orderKeys and of their attempts (a CRM's error may quote an email or a
// name). It returns how many row and attempt texts changed. The rows are found by a scan
// (order_key is indexed only for open rows): a privacy request is rare.
func ScrubErrors(ctx context.Context, q db.Querier, orderKeys, needles []string) (items, attempts int64, err error) {
	if len(orderKeys) == 0 || len(needles) == 0 {
		return 0, 0, nil
	}
	err = q.QueryRow(ctx, sqlScrubErrors, pgx.StrictNamedArgs{"order_keys": orderKeys, "needles": needles}).Scan(&items, &attempts)
	if err != nil {
		return 0, 0, fmt.Errorf("scrub the error texts of %d order keys: %w", len(orderKeys), err)
	}
	return items, attempts, nil
}

// CancelOrderKeys cancels the pending and failed rows of orderKeys, saying why: the
// customer they would sync is gone (redacted), and a retry must not send a placeholder to
// the CRM. It returns how many it cancelled.
func CancelOrderKeys(ctx context.Context, q db.Querier, orderKeys []string, reason string) (int64, error) {
	if len(orderKeys) == 0 {
		return 0, nil
	}
	tag, err := q.Exec(ctx, sqlCancelOrderKeys, pgx.StrictNamedArgs{"order_keys": orderKeys, "reason": reason, "now": nil})
	if err != nil {
		return 0, fmt.Errorf("cancel the rows of %d order keys: %w", len(orderKeys), err)
	}
	return tag.RowsAffected(), nil
}

// ForgetRateKey deletes every row of rateKey, their attempts and its bucket: the client
// they belong to is being deleted. It returns how many rows it deleted.
func ForgetRateKey(ctx context.Context, q db.Querier, rateKey string) (int64, error) {
	var items, buckets int64
	if err := q.QueryRow(ctx, sqlForgetRateKey, pgx.StrictNamedArgs{"rate_key": rateKey}).Scan(&items, &buckets); err != nil {
		return 0, fmt.Errorf("forget rate key %s: %w", rateKey, err)
	}
	return items, nil
}
