package fleet

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, err := io.ReadAll(rec.Result().Body)
	require.NoError(t, err)
	return rec.Code, string(b)
}

func TestHealthHandler(t *testing.T) {
	t.Parallel()
	h := NewHealth("engine:cpu", "nats")
	m := NewMetrics()
	srv := h.Handler(m)

	code, _ := get(t, srv, "/healthz")
	require.Equal(t, http.StatusOK, code)

	code, body := get(t, srv, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, body, "engine:cpu, nats")

	h.Set("engine:cpu", true)
	code, body = get(t, srv, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, body, "nats")
	require.NotContains(t, body, "engine")

	h.Set("nats", true)
	code, _ = get(t, srv, "/readyz")
	require.Equal(t, http.StatusOK, code)

	h.Set("nats", false) // lost connection
	code, _ = get(t, srv, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code)

	m.Jobs.WithLabelValues(OutcomeSucceeded).Inc()
	m.StageSeconds.WithLabelValues("detect").Observe(0.01)
	m.Inflight.WithLabelValues("cpu").Set(2)
	m.QueueLag.WithLabelValues("high").Set(7)
	code, body = get(t, srv, "/metrics")
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{
		`facefleet_worker_jobs_total{outcome="succeeded"} 1`,
		`facefleet_worker_jobs_total{outcome="failed"} 0`,
		`facefleet_worker_stage_duration_seconds_count{stage="detect"} 1`,
		`facefleet_worker_inflight_jobs{device="cpu"} 2`,
		`facefleet_worker_queue_lag_messages{priority="high"} 7`,
		`go_memstats_alloc_bytes`,
		`process_resident_memory_bytes`,
	} {
		require.Contains(t, body, want)
	}
}

func TestHealthEmptyIsNotReady(t *testing.T) {
	t.Parallel()
	ok, _ := NewHealth().Ready()
	require.False(t, ok)
}
