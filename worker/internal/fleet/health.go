package fleet

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Health tracks readiness of the named parts of the process (one per device
// engine, one for the NATS connection). /readyz answers 200 only when every
// registered part is ready.
type Health struct {
	mu    sync.Mutex
	parts map[string]bool
}

// NewHealth returns a Health expecting the given parts, all not ready.
func NewHealth(parts ...string) *Health {
	h := &Health{parts: make(map[string]bool, len(parts))}
	for _, p := range parts {
		h.parts[p] = false
	}
	return h
}

// Set marks part ready or not; an unknown part is added.
func (h *Health) Set(part string, ready bool) {
	h.mu.Lock()
	h.parts[part] = ready
	h.mu.Unlock()
}

// Ready reports whether every part is ready, and lists those that are not.
func (h *Health) Ready() (bool, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var not []string
	for p, ok := range h.parts {
		if !ok {
			not = append(not, p)
		}
	}
	sort.Strings(not)
	return len(h.parts) > 0 && len(not) == 0, not
}

// Handler serves /healthz (the process is alive), /readyz (every part is
// ready) and /metrics (Prometheus text format from m; omitted when m is nil).
func (h *Health) Handler(m *Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		ok, not := h.Ready()
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %s\n", strings.Join(not, ", "))
			return
		}
		fmt.Fprintln(w, "ready")
	})
	if m != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry}))
	}
	return mux
}
