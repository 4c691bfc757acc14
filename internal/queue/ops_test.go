package queue

import (
	"context"
	"errors"
	"testing"

	"tiersync/internal/apperr"
)

func TestOperations(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 6)
	ctx := context.Background()
	clk := newClock()
	q := newQueue(w, func(context.Context, Job) error { return Permanent(errors.New("422 bad address")) }, Config{Now: clk.Now})
	ids := w.enqueue(t, 6) // six customers
	set := func(id int64, status string) {
		t.Helper()
		if _, err := w.pool.Exec(ctx, `UPDATE crm_sync_queue SET status = $2,
			completed_at = CASE WHEN $2 = 'completed' THEN now() END,
			locked_by = CASE WHEN $2 = 'processing' THEN 'w' END,
			locked_until = CASE WHEN $2 = 'processing' THEN now() END WHERE id = $1`, id, status); err != nil {
			t.Fatal(err)
		}
	}
	// ids[0] failed through a real attempt; the others set by hand.
	if _, err := q.RunOne(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	set(ids[1], StatusCompleted)
	set(ids[2], StatusProcessing)
	set(ids[3], StatusCancelled)
	// ids[4] and ids[5] pending.

	cases := []struct {
		name   string
		op     func(int64) (Item, error)
		id     int64
		kind   apperr.Kind // Internal: succeeds
		status string      // the row's status afterwards
	}{
		{"retry failed", func(id int64) (Item, error) { return q.Retry(ctx, id, false) }, ids[0], apperr.Internal, StatusPending},
		{"retry completed", func(id int64) (Item, error) { return q.Retry(ctx, id, false) }, ids[1], apperr.Conflict, StatusCompleted},
		{"retry processing", func(id int64) (Item, error) { return q.Retry(ctx, id, true) }, ids[2], apperr.Conflict, StatusProcessing},
		{"retry cancelled", func(id int64) (Item, error) { return q.Retry(ctx, id, false) }, ids[3], apperr.Conflict, StatusCancelled},
		{"retry unknown", func(id int64) (Item, error) { return q.Retry(ctx, id, false) }, 999999, apperr.NotFound, ""},
		{"cancel pending", func(id int64) (Item, error) { return q.Cancel(ctx, id) }, ids[4], apperr.Internal, StatusCancelled},
		{"cancel completed", func(id int64) (Item, error) { return q.Cancel(ctx, id) }, ids[1], apperr.Conflict, StatusCompleted},
		{"cancel processing", func(id int64) (Item, error) { return q.Cancel(ctx, id) }, ids[2], apperr.Conflict, StatusProcessing},
		{"cancel unknown", func(id int64) (Item, error) { return q.Cancel(ctx, id) }, 999999, apperr.NotFound, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			it, err := c.op(c.id)
			if got := apperr.KindOf(err); (err == nil) != (c.kind == apperr.Internal) || (err != nil && got != c.kind) {
				t.Fatalf("err = %v (kind %d), want kind %d", err, got, c.kind)
			}
			if err == nil && it.Status != c.status {
				t.Fatalf("returned row is %s, want %s", it.Status, c.status)
			}
			if c.status != "" {
				if r := w.row(t, c.id); r.Status != c.status {
					t.Fatalf("row is %s, want %s", r.Status, c.status)
				}
			}
		})
	}

	// The retried row kept its attempt and got one more to spend; it is due now.
	if r := w.row(t, ids[0]); r.Attempts != 1 || r.NextRetryAt.After(clk.Now()) {
		t.Fatalf("retried row %+v", r)
	}
	it, history, err := q.Get(ctx, ids[0])
	if err != nil || it.ID != ids[0] || len(history) != 1 || history[0].Outcome != "failed" || *history[0].Error != "422 bad address" {
		t.Fatalf("Get: %+v %+v %v", it, history, err)
	}
	if _, _, err := q.Get(ctx, 999999); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("Get unknown: %v", err)
	}

	// Fail it again, then retry every failed row of this client.
	if _, err := q.RunOne(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if n, err := q.RetryFailed(ctx, Filter{ClientID: w.client, ActionType: ActionCancel}, false); err != nil || n != 0 {
		t.Fatalf("retry-failed of another action: %d %v", n, err)
	}
	if n, err := q.RetryFailed(ctx, Filter{ClientID: w.client}, true); err != nil || n != 1 {
		t.Fatalf("retry-failed: %d %v", n, err)
	}
	if r := w.row(t, ids[0]); r.Status != StatusPending || r.Attempts != 0 {
		t.Fatalf("after retry-failed with reset: %+v", r)
	}

	// List: filters and paging, newest first.
	items, next, err := q.List(ctx, Filter{Status: StatusPending}, 1, "")
	if err != nil || len(items) != 1 || items[0].ID != ids[5] || next == "" {
		t.Fatalf("first page: %+v %q %v", items, next, err)
	}
	items, next, err = q.List(ctx, Filter{Status: StatusPending}, 5, next)
	if err != nil || len(items) != 1 || items[0].ID != ids[0] || next != "" {
		t.Fatalf("second page: %+v %q %v", items, next, err)
	}
	items, _, err = q.List(ctx, Filter{CustomerIDs: []string{w.customers[2]}}, 10, "")
	if err != nil || len(items) != 1 || items[0].ID != ids[2] {
		t.Fatalf("email search: %+v %v", items, err)
	}
	for _, f := range []Filter{{Status: "done"}, {ActionType: "add"}, {ClientID: "nope"}} {
		if _, _, err := q.List(ctx, f, 10, ""); err == nil {
			t.Errorf("List(%+v) accepted", f)
		}
	}
	if _, _, err := q.List(ctx, Filter{}, 10, "abc"); apperr.KindOf(err) != apperr.BadRequest {
		t.Fatalf("bad cursor: %v", err)
	}

	st, err := q.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{StatusPending: 2, StatusProcessing: 1, StatusCompleted: 1, StatusFailed: 0, StatusCancelled: 2}
	for s, n := range want {
		if st.ByStatus[s] != n {
			t.Errorf("by_status[%s] = %d, want %d (%v)", s, st.ByStatus[s], n, st.ByStatus)
		}
	}
	if len(st.ByAction) != 3 || st.ByAction[ActionAdd] != 6 || st.ByAction[ActionUpgrade] != 0 {
		t.Errorf("by_action %v", st.ByAction)
	}
	if st.OldestPendingSeconds < 3500 { // the clock runs an hour ahead of the rows' created_at
		t.Errorf("oldest_pending_seconds %d", st.OldestPendingSeconds)
	}
}
