package fleet

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/facefleet/facefleet/shared/webhook"
)

// Metrics are the worker's Prometheus metrics. Create them with NewMetrics
// and serve them with Health.Handler.
type Metrics struct {
	// Registry holds every metric below plus the Go runtime and process
	// collectors (memory, goroutines, CPU, file descriptors).
	Registry *prometheus.Registry
	// Jobs counts finished deliveries by outcome (succeeded, failed,
	// retried, dead_lettered, canceled, requeued).
	Jobs *prometheus.CounterVec
	// StageSeconds observes each pipeline stage's duration.
	StageSeconds *prometheus.HistogramVec
	// Inflight is the number of jobs being processed, per device.
	Inflight *prometheus.GaugeVec
	// QueueLag is the number of messages waiting per priority consumer
	// (num_pending from the consumer info).
	QueueLag *prometheus.GaugeVec
	// GPUMemory is the device memory in use per device, in bytes. It stays
	// 0 on the CPU, and also on CUDA: ONNX Runtime does not expose its
	// arena usage through the C API we bind, so nothing reports it yet.
	GPUMemory *prometheus.GaugeVec
	// Webhooks counts webhook attempts by result (delivered, retried,
	// refused, expired, dropped: webhook.Results).
	Webhooks *prometheus.CounterVec
	// WebhookLatency observes, for delivered webhooks, the time from the
	// event being queued to the receiver's 2xx.
	WebhookLatency prometheus.Histogram
}

// ObserveWebhook records one webhook attempt (webhook.DispatcherConfig.Observe).
func (m *Metrics) ObserveWebhook(result string, sinceQueued time.Duration) {
	m.Webhooks.WithLabelValues(result).Inc()
	if result == webhook.ResultDelivered {
		m.WebhookLatency.Observe(sinceQueued.Seconds())
	}
}

// NewMetrics registers the worker metrics on a fresh registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "facefleet", Subsystem: "worker", Name: "jobs_total",
			Help: "Job deliveries finished by the worker, by outcome.",
		}, []string{"outcome"}),
		StageSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "facefleet", Subsystem: "worker", Name: "stage_duration_seconds",
			Help:    "Duration of each pipeline stage.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"stage"}),
		Inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "facefleet", Subsystem: "worker", Name: "inflight_jobs",
			Help: "Jobs being processed now, per device.",
		}, []string{"device"}),
		QueueLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "facefleet", Subsystem: "worker", Name: "queue_lag_messages",
			Help: "Messages waiting per priority consumer (num_pending from the JetStream consumer info).",
		}, []string{"priority"}),
		GPUMemory: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "facefleet", Subsystem: "worker", Name: "gpu_memory_bytes",
			Help: "GPU memory in use per device; 0 on CPU and where ONNX Runtime does not report it.",
		}, []string{"device"}),
		Webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "facefleet", Subsystem: "worker", Name: "webhooks_total",
			Help: "Webhook delivery attempts by result.",
		}, []string{"result"}),
		WebhookLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "facefleet", Subsystem: "worker", Name: "webhook_latency_seconds",
			Help:    "Time from a job event being queued to the receiver's 2xx, for delivered webhooks (retries included).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30, 120, 600, 3600},
		}),
	}
	m.Registry.MustRegister(
		m.Jobs, m.StageSeconds, m.Inflight, m.QueueLag, m.GPUMemory, m.Webhooks, m.WebhookLatency,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	for _, o := range []string{OutcomeSucceeded, OutcomeFailed, OutcomeRetried, OutcomeDeadLetter, OutcomeCanceled, OutcomeRequeued} {
		m.Jobs.WithLabelValues(o)
	}
	for _, r := range webhook.Results() {
		m.Webhooks.WithLabelValues(r)
	}
	return m
}
