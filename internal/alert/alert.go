// Package alert tells operators when the queue needs them: rows that reached "failed",
// a pending row older than it should be, and a Shopify connection that cannot get a
// token or was uninstalled (once per state change: connections.go). It posts a
// Slack-compatible {"text": …} to ALERT_WEBHOOK_URL, the queue's alerts at most once per
// kind per interval; the last delivery of each kind
// is kept in PostgreSQL (alert_deliveries) so every replica shares the rate limit, and a
// delivery that fails is not recorded, so the next check tries again.
package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/crm"
	"tiersync/internal/outbound"
	"tiersync/internal/queue"
)

// Kinds of alert.
const (
	KindFailed     = "failed_rows"
	KindPendingAge = "pending_age"
)

// Config configures the alerts.
type Config struct {
	// URL is ALERT_WEBHOOK_URL; "" turns alerts off. It is a secret (a Slack webhook
	// URL is its own credential): it never appears in a log line nor an error.
	URL        string
	PendingAge time.Duration // ALERT_PENDING_AGE
	Interval   time.Duration // ALERT_INTERVAL
	// HTTP is the client; nil: one with a 10 s timeout. Either way a copy that refuses
	// redirects is used.
	HTTP   *http.Client
	Now    func() time.Time
	Logger *slog.Logger
	// Connections gives the Shopify connections' states (shopifyapp.Store) for the
	// connection alerts (connections.go); nil: none.
	Connections Connections
}

// Alerter checks and delivers.
type Alerter struct {
	pool *pgxpool.Pool
	cfg  Config
}

// New makes an Alerter.
func New(pool *pgxpool.Pool, cfg Config) *Alerter {
	if cfg.PendingAge <= 0 {
		cfg.PendingAge = time.Hour
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 15 * time.Minute
	}
	cfg.HTTP = outbound.NoRedirects(cfg.HTTP, 10*time.Second)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Alerter{pool: pool, cfg: cfg}
}

// Check looks at the queue and delivers the alerts that are due; it returns the kinds it
// delivered. A failed delivery is logged and returned as an error; the check after it
// tries again.
func (a *Alerter) Check(ctx context.Context) ([]string, error) {
	if a.cfg.URL == "" {
		return nil, nil
	}
	now := a.cfg.Now()
	var sent []string
	var errs []error
	for _, check := range []func(context.Context, time.Time) (string, *time.Time, error){a.failedRows, a.pendingAge} {
		kind, mark, err := check(ctx, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if kind == "" {
			continue
		}
		if _, err := a.pool.Exec(ctx, qRecordDelivery, pgx.StrictNamedArgs{"kind": kind, "delivered_at": now, "last_failed_at": mark}); err != nil {
			errs = append(errs, fmt.Errorf("alert %s: record delivery: %w", kind, err))
			continue
		}
		sent = append(sent, kind)
	}
	// Connections are remembered one by one (alert_connection_deliveries), not by kind.
	if kind, err := a.connections(ctx, now); err != nil {
		errs = append(errs, err)
	} else if kind != "" {
		sent = append(sent, kind)
	}
	return sent, errors.Join(errs...)
}

// due reports whether an alert of kind may go out now, and the last failed row reported.
func (a *Alerter) due(ctx context.Context, kind string, now time.Time) (bool, *time.Time, error) {
	var delivered, lastFailed *time.Time
	err := a.pool.QueryRow(ctx, qLastDelivery, pgx.StrictNamedArgs{"kind": kind}).Scan(&delivered, &lastFailed)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, nil, fmt.Errorf("alert %s: %w", kind, err)
	}
	return delivered == nil || now.Sub(*delivered) >= a.cfg.Interval, lastFailed, nil
}

func (a *Alerter) failedRows(ctx context.Context, now time.Time) (string, *time.Time, error) {
	ok, lastFailed, err := a.due(ctx, KindFailed, now)
	if err != nil || !ok {
		return "", nil, err
	}
	sum, err := queue.FailedSince(ctx, a.pool, lastFailed)
	if err != nil {
		return "", nil, fmt.Errorf("alert: %w", err)
	}
	fresh, total, newest := sum.Since, sum.Total, sum.Newest
	if fresh == 0 {
		return "", nil, nil
	}
	failed, err := queue.NewestFailed(ctx, a.pool, lastFailed, 5)
	if err != nil {
		return "", nil, fmt.Errorf("alert: %w", err)
	}
	var lines []string
	for _, f := range failed {
		lines = append(lines, fmt.Sprintf("• #%d %s: %s", f.ID, f.ActionType, crm.CleanText(f.Error, 300)))
	}
	text := fmt.Sprintf("tiersync: %d queue row(s) failed since the last alert (%d failed in all). Newest:\n%s",
		fresh, total, strings.Join(lines, "\n"))
	if err := a.deliver(ctx, KindFailed, text); err != nil {
		return "", nil, err
	}
	return KindFailed, newest, nil
}

func (a *Alerter) pendingAge(ctx context.Context, now time.Time) (string, *time.Time, error) {
	ok, _, err := a.due(ctx, KindPendingAge, now)
	if err != nil || !ok {
		return "", nil, err
	}
	oldest, pending, err := queue.OldestPending(ctx, a.pool)
	if err != nil {
		return "", nil, fmt.Errorf("alert: %w", err)
	}
	if oldest == nil || now.Sub(*oldest) <= a.cfg.PendingAge {
		return "", nil, nil
	}
	text := fmt.Sprintf("tiersync: the oldest pending queue row has waited %s (limit %s); %d row(s) pending. Are the workers running, or is a CRM down?",
		now.Sub(*oldest).Round(time.Second), a.cfg.PendingAge, pending)
	if err := a.deliver(ctx, KindPendingAge, text); err != nil {
		return "", nil, err
	}
	return KindPendingAge, nil, nil
}

// Send delivers text now, with no rate limit of its own: for alerts that come from a
// run that happens rarely (a reconcile run that found drift). Without ALERT_WEBHOOK_URL
// it does nothing.
func (a *Alerter) Send(ctx context.Context, text string) error {
	if a.cfg.URL == "" {
		return nil
	}
	return a.deliver(ctx, "drift", text)
}

func (a *Alerter) deliver(ctx context.Context, kind, text string) error {
	err := a.post(ctx, text)
	if err != nil {
		a.cfg.Logger.Warn("alert not delivered; the next check tries again", slog.String("kind", kind), slog.String("error", err.Error()))
		return fmt.Errorf("alert %s: deliver: %w", kind, err)
	}
	return nil
}

// post sends text to the webhook. Its errors never hold the URL (hideURL).
func (a *Alerter) post(ctx context.Context, text string) error {
	body, _ := json.Marshal(map[string]string{"text": text})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("make the request: %w", hideURL(err))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.cfg.HTTP.Do(req)
	if err != nil {
		return hideURL(err)
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode <= 399:
		// Never followed (outbound.NoRedirects): the alert text would go wherever the answer
		// points. A webhook that redirects is misconfigured.
		return fmt.Errorf("HTTP %d: the webhook answered a redirect, which is never followed: check ALERT_WEBHOOK_URL", resp.StatusCode)
	case resp.StatusCode >= 400:
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// hideURL strips the URL from Go's *url.Error ("Post \"https://hooks.slack.com/services/
// …\": dial tcp …"), keeping its operation and cause, which name at most the host:
// the URL's path is the webhook's secret.
func hideURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
