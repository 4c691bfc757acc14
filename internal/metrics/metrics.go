// Package metrics holds the process-wide Prometheus collectors that are not the queue's
// own: HTTP requests by route and status, and job runs; and the /metrics handler. Each is a callback the owning
// package calls, so api and schedule do not import Prometheus.
package metrics

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HTTP registers tiersync_http_requests_total{route,status} and
// tiersync_http_request_duration_seconds{route} and returns the observer for api.Options.
func HTTP(reg prometheus.Registerer) (func(route string, status int, d time.Duration), error) {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tiersync_http_requests_total", Help: "HTTP requests by route pattern and status.",
	}, []string{"route", "status"})
	durations := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "tiersync_http_request_duration_seconds", Help: "HTTP request durations by route pattern.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route"})
	for _, c := range []prometheus.Collector{requests, durations} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return func(route string, status int, d time.Duration) {
		requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
		durations.WithLabelValues(route).Observe(d.Seconds())
	}, nil
}

// Jobs registers tiersync_job_runs_total{job,status} and
// tiersync_job_run_duration_seconds{job} and returns the observer for schedule.Options.
func Jobs(reg prometheus.Registerer) (func(job, status string, d time.Duration), error) {
	runs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tiersync_job_runs_total", Help: "Job runs this process made, by job and outcome.",
	}, []string{"job", "status"})
	durations := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "tiersync_job_run_duration_seconds", Help: "Job run durations.",
		Buckets: []float64{0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900},
	}, []string{"job"})
	for _, c := range []prometheus.Collector{runs, durations} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return func(job, status string, d time.Duration) {
		runs.WithLabelValues(job, status).Inc()
		durations.WithLabelValues(job).Observe(d.Seconds())
	}, nil
}

// Handler serves GET /metrics from g. /metrics carries no token, so a scrape must cost
// next to nothing: the collectors behind it read memory (the queue's gauges are refreshed
// in the background), at most inFlight scrapes run at once (the rest are answered 503 at
// once), and each is cut off after timeout.
func Handler(g prometheus.Gatherer, log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		MaxRequestsInFlight: inFlight,
		Timeout:             timeout,
		ErrorLog:            slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	})
}

// One Prometheus server scrapes a target one scrape at a time; 4 leaves room for a second
// server and a curl.
const (
	inFlight = 4
	timeout  = 5 * time.Second
)
