package fleet

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
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
	}
	m.Registry.MustRegister(
		m.Jobs, m.StageSeconds, m.Inflight, m.QueueLag, m.GPUMemory,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	for _, o := range []string{OutcomeSucceeded, OutcomeFailed, OutcomeRetried, OutcomeDeadLetter, OutcomeCanceled, OutcomeRequeued} {
		m.Jobs.WithLabelValues(o)
	}
	return m
}
