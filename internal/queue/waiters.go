package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/apperr"
)

// waiters are the Wait calls of this process, by row: a row this process finishes wakes
// its waiters at once (an inline sync answers in milliseconds), instead of at their next
// poll.
type waiters struct {
	mu sync.Mutex
	m  map[int64][]chan struct{}
}

func newWaiters() *waiters { return &waiters{m: map[int64][]chan struct{}{}} }

// add registers a waiter for row id; its channel closes when the row changes.
func (w *waiters) add(id int64) chan struct{} {
	ch := make(chan struct{})
	w.mu.Lock()
	w.m[id] = append(w.m[id], ch)
	w.mu.Unlock()
	return ch
}

// drop forgets a waiter that stopped waiting.
func (w *waiters) drop(id int64, ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	list := w.m[id]
	for i, c := range list {
		if c == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(w.m, id)
	} else {
		w.m[id] = list
	}
}

// signal tells the waiters of these rows that they changed.
func (w *waiters) signal(ids ...int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range ids {
		for _, ch := range w.m[id] {
			close(ch)
		}
		delete(w.m, id)
	}
}

// Wait blocks until row id leaves pending and processing, or ctx ends, and returns its
// status then. It hears of rows this process finishes at once and polls the database for
// rows another replica finishes.
func (q *Queue) Wait(ctx context.Context, id int64) (string, error) {
	ticker := time.NewTicker(q.cfg.WaitPoll)
	defer ticker.Stop()
	for {
		ch := q.waiters.add(id)
		status, err := rowStatus(context.WithoutCancel(ctx), q.pool, id)
		if err != nil {
			q.waiters.drop(id, ch)
			return "", err
		}
		if status != StatusPending && status != StatusProcessing {
			q.waiters.drop(id, ch)
			return status, nil
		}
		select {
		case <-ctx.Done():
			q.waiters.drop(id, ch)
			return status, nil
		case <-ch:
		case <-ticker.C:
			q.waiters.drop(id, ch)
		}
	}
}

// rowStatus reads row id's status; a row that does not exist is NotFound.
func rowStatus(ctx context.Context, pool *pgxpool.Pool, id int64) (string, error) {
	var s string
	err := pool.QueryRow(ctx, sqlStatus, pgx.StrictNamedArgs{"id": id}).Scan(&s)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", apperr.NotFoundf("queue row %d not found", id)
	}
	if err != nil {
		return "", fmt.Errorf("read status of row %d: %w", id, err)
	}
	return s, nil
}
