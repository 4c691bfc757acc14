package queue

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the engine's Prometheus metrics. Counters are updated as rows run. The row
// counts and the oldest pending age come from a snapshot that Run refreshes in the
// background, one query per interval: /metrics is unauthenticated, and a scrape that
// counted a table of millions of rows would let anyone who can reach it keep the database
// busy (issue 16). Every replica reports the same table, so dashboards should take max(),
// not sum().
type Metrics struct {
	attempts  *prometheus.CounterVec
	duration  prometheus.Histogram
	rateWaits *prometheus.CounterVec
	q         *Queue

	mu        sync.Mutex
	snapshot  counts
	refreshed time.Time // zero until the first refresh: no row gauges before it
	refreshes int
}

// NewMetrics registers the engine's metrics on reg and attaches them to q.
func NewMetrics(reg prometheus.Registerer, q *Queue) (*Metrics, error) {
	m := &Metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tiersync_sync_attempts_total",
			Help: "Sync attempts by outcome (succeeded, retry, throttled, failed, released).",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tiersync_sync_duration_seconds",
			Help:    "How long a handler took to sync one row with the CRM.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12), // 5 ms … 10 s
		}),
		rateWaits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tiersync_ratelimit_waits_total",
			Help: "Times a CRM request waited for its client's rate-limit bucket.",
		}, []string{"client"}),
		q: q,
	}
	for _, c := range []prometheus.Collector{m.attempts, m.duration, m.rateWaits, m} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	q.metrics = m
	q.limiter.waited = func(key string) { m.rateWaits.WithLabelValues(key).Inc() }
	q.executor.metrics = m
	return m, nil
}

// Run refreshes the row gauges now and then every interval until ctx ends. A failed
// refresh keeps the last snapshot (its age is a gauge of its own) and is logged.
func (m *Metrics) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, max(interval, 5*time.Second))
		if err := m.Refresh(rctx); err != nil && ctx.Err() == nil {
			m.q.log.Warn("refreshing queue gauges", slog.String("error", err.Error()))
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Refresh reads the row counts once and keeps them for the scrapes that follow.
func (m *Metrics) Refresh(ctx context.Context) error {
	c, err := m.q.counts(ctx)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.snapshot, m.refreshed = c, m.q.clock.time()
	m.refreshes++
	return nil
}

// Refreshes is how many times the gauges were read from the database.
func (m *Metrics) Refreshes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.refreshes
}

var (
	rowsDesc = prometheus.NewDesc("tiersync_queue_rows", "Rows in crm_sync_queue by status and action (as of the last refresh).",
		[]string{"status", "action_type"}, nil)
	oldestDesc = prometheus.NewDesc("tiersync_queue_oldest_pending_seconds",
		"Age of the oldest pending row (from created_at) at the last refresh, 0 when none.", nil, nil)
	refreshedDesc = prometheus.NewDesc("tiersync_queue_gauges_refreshed_timestamp_seconds",
		"When the queue gauges were last read from the database (Unix time).", nil, nil)
)

// Describe implements prometheus.Collector for the snapshot gauges.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- rowsDesc
	ch <- oldestDesc
	ch <- refreshedDesc
}

// Collect reports the last snapshot; it never touches the database.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.refreshed.IsZero() {
		return
	}
	for _, s := range Statuses {
		for _, a := range Actions {
			n := m.snapshot.rows[countKey{s, a}]
			ch <- prometheus.MustNewConstMetric(rowsDesc, prometheus.GaugeValue, float64(n), s, a)
		}
	}
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, float64(m.snapshot.oldestPending))
	ch <- prometheus.MustNewConstMetric(refreshedDesc, prometheus.GaugeValue, float64(m.refreshed.Unix()))
}

// observe records one finished attempt.
func (m *Metrics) observe(o outcome) {
	if m == nil {
		return
	}
	m.attempts.WithLabelValues(o.kind).Inc()
	m.duration.Observe(o.finished.Sub(o.started).Seconds())
}
