package queue

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"tiersync/internal/testfactory"
)

func TestMetrics(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 3)
	ctx := context.Background()
	clk := newClock()
	q := newQueue(w, func(_ context.Context, j Job) error {
		if j.OrderKey == w.customers[1] {
			return errors.New("503")
		}
		return nil
	}, Config{Now: clk.Now})
	reg := prometheus.NewRegistry()
	if _, err := NewMetrics(reg, q); err != nil {
		t.Fatal(err)
	}
	w.enqueue(t, 3)
	if res, err := q.RunDue(ctx, 10); err != nil || res.Processed != 3 {
		t.Fatalf("%+v %v", res, err)
	}
	// A waiting limiter user counts a wait.
	testfactory.SetRateLimit(t, w.pool, w.client, 6) // a burst of one token
	if err := q.Limiter().Take(ctx, w.client); err != nil {
		t.Fatal(err)
	}
	// The bucket (1 token) is empty: Take waits, counted, then gives up. The wait itself ends
	// its context (a timeout would race the first read of the bucket on a busy machine).
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	count := q.limiter.waited
	q.limiter.waited = func(key string) { count(key); cancel() }
	_ = q.Limiter().Take(tctx, w.client)

	checks := []struct {
		name string
		got  float64
		want float64
	}{
		{"succeeded attempts", testutil.ToFloat64(q.metrics.attempts.WithLabelValues("succeeded")), 2},
		{"retry attempts", testutil.ToFloat64(q.metrics.attempts.WithLabelValues("retry")), 1},
		{"rate-limit waits", testutil.ToFloat64(q.metrics.rateWaits.WithLabelValues(w.client)), 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "tiersync_queue_rows" {
			t.Fatal("row gauges reported before the first refresh")
		}
	}
	if err := q.metrics.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	families, err = reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetValue()
			}
			switch {
			case m.GetGauge() != nil:
				values[key] = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				values[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	want := map[string]float64{
		"tiersync_queue_rows,add_membership,completed":  2,
		"tiersync_queue_rows,add_membership,pending":    1,
		"tiersync_queue_rows,upgrade_membership,failed": 0,
		"tiersync_queue_oldest_pending_seconds":         values["tiersync_queue_oldest_pending_seconds"],
		"tiersync_sync_duration_seconds":                3,
	}
	for k, v := range want {
		if got, ok := values[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if values["tiersync_queue_oldest_pending_seconds"] < 3500 {
		t.Errorf("oldest pending %v s, want about an hour (the clock runs ahead)", values["tiersync_queue_oldest_pending_seconds"])
	}
}
