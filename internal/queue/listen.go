package queue

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// listener keeps a dedicated connection LISTENing on Channel (a pooled connection cannot
// hold a LISTEN) and calls wake on every notification.
type listener struct {
	pool *pgxpool.Pool
	url  string // "": the pool's connection settings
	log  *slog.Logger
	wake func()
}

// run listens until ctx ends. After a lost connection it reconnects with backoff, LISTENs
// again and wakes once, because notifications sent while it was away are gone; the poll
// covers the gap meanwhile.
func (l *listener) run(ctx context.Context) {
	delay := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := l.runOnce(ctx, func() { delay = 100 * time.Millisecond })
		if ctx.Err() != nil {
			return
		}
		l.log.Warn("listener lost its connection; reconnecting", slog.Duration("in", delay), slog.String("error", err.Error()))
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}

// runOnce runs one connection until it fails; connected is called once it listens.
func (l *listener) runOnce(ctx context.Context, connected func()) error {
	cfg := l.pool.Config().ConnConfig.Copy()
	if l.url != "" {
		var err error
		if cfg, err = pgx.ParseConfig(l.url); err != nil {
			return fmt.Errorf("parse DATABASE_LISTEN_URL: %w", err)
		}
	}
	// Named, so that an operator (and the pooler test) can tell it in pg_stat_activity.
	cfg.RuntimeParams["application_name"] = "tiersync-listener"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{Channel}.Sanitize()); err != nil {
		return err
	}
	connected()
	l.wake()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		l.wake()
	}
}
