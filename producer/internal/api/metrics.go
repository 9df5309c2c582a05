package api

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	authFailures prometheus.Counter
	submitted    *prometheus.CounterVec
	streams      prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "facefleet_api_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "facefleet_api_request_duration_seconds", Help: "HTTP request duration by route.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}, []string{"route"}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "facefleet_api_auth_failures_total", Help: "Requests refused for a missing or unknown API key.",
		}),
		submitted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "facefleet_api_jobs_submitted_total", Help: "Jobs accepted by priority.",
		}, []string{"priority"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "facefleet_api_event_streams", Help: "Open server-sent event streams.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.authFailures, m.submitted, m.streams} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
