package queue

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the engine's Prometheus metrics. Counters are updated as rows run; the row
// counts and the oldest pending age are read from the database at scrape time (every
// replica reports the same table, so dashboards should take max(), not sum()).
type Metrics struct {
	attempts  *prometheus.CounterVec
	duration  prometheus.Histogram
	rateWaits *prometheus.CounterVec
	q         *Queue
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
	q.limiter.waited = func(client string) { m.rateWaits.WithLabelValues(client).Inc() }
	return m, nil
}

var (
	rowsDesc = prometheus.NewDesc("tiersync_queue_rows", "Rows in crm_sync_queue by status and action.",
		[]string{"status", "action_type"}, nil)
	oldestDesc = prometheus.NewDesc("tiersync_queue_oldest_pending_seconds",
		"Age of the oldest pending row (from created_at), 0 when none.", nil, nil)
)

// Describe implements prometheus.Collector for the scrape-time gauges.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- rowsDesc
	ch <- oldestDesc
}

// Collect reads the row counts from the database.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := m.q.pool.Query(ctx, qCounts)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(rowsDesc, err)
		return
	}
	counts := map[[2]string]float64{}
	for _, s := range Statuses {
		for _, a := range Actions {
			counts[[2]string{s, a}] = 0
		}
	}
	for rows.Next() {
		var s, a string
		var n int64
		if err := rows.Scan(&s, &a, &n); err != nil {
			rows.Close()
			ch <- prometheus.NewInvalidMetric(rowsDesc, err)
			return
		}
		counts[[2]string{s, a}] = float64(n)
	}
	if err := rows.Err(); err != nil {
		ch <- prometheus.NewInvalidMetric(rowsDesc, err)
		return
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(rowsDesc, prometheus.GaugeValue, n, k[0], k[1])
	}
	var oldest int64
	if err := m.q.pool.QueryRow(ctx, qOldestPending, m.q.sqlNow()).Scan(&oldest); err != nil {
		ch <- prometheus.NewInvalidMetric(oldestDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, float64(oldest))
}

// observe records one finished attempt.
func (m *Metrics) observe(o outcome) {
	if m == nil {
		return
	}
	m.attempts.WithLabelValues(o.kind).Inc()
	m.duration.Observe(o.finished.Sub(o.started).Seconds())
}
