package queue

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// listenLoop keeps a dedicated connection LISTENing on Channel (a pooled connection
// cannot hold a LISTEN) and nudges the claimer on every notification. After a lost
// connection it reconnects with backoff, LISTENs again and nudges once, because
// notifications sent while it was away are gone; the poll covers the gap meanwhile.
func (q *Queue) listenLoop(ctx context.Context) {
	delay := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := q.listen(ctx, func() { delay = 100 * time.Millisecond })
		if ctx.Err() != nil {
			return
		}
		q.log.Warn("listener lost its connection; reconnecting", slog.Duration("in", delay), slog.String("error", err.Error()))
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}

// listen runs one connection until it fails; connected is called once it listens.
func (q *Queue) listen(ctx context.Context, connected func()) error {
	cfg := q.pool.Config().ConnConfig.Copy()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{Channel}.Sanitize()); err != nil {
		return err
	}
	connected()
	q.nudge()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		q.nudge()
	}
}
