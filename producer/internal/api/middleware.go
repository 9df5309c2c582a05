package api

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/facefleet/facefleet/config"
	"github.com/facefleet/facefleet/shared/errcode"
)

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// writeError writes {"error":{"code","message","request_id"}}; code is one of
// shared/errcode's set.
func writeError(w http.ResponseWriter, r *http.Request, status int, code errcode.Code, msg string) {
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code.String(), Message: msg, RequestID: requestID(r)}})
}

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyTenant
)

func requestID(r *http.Request) string {
	s, _ := r.Context().Value(keyRequestID).(string)
	return s
}

func tenantOf(r *http.Request) string {
	s, _ := r.Context().Value(keyTenant).(string)
	return s
}

// newRequestID returns 16 random hex characters.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validRequestID accepts a caller's X-Request-ID when short and printable.
func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// statusRecorder captures the status code and body size for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(p)
	s.bytes += int64(n)
	return n, err
}

// Flush lets server-sent events through the recorder.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logRequests assigns a request ID, records metrics and writes one access
// log line per request.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-ID")
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-ID", id)
		rec := &statusRecorder{ResponseWriter: w}
		r = r.WithContext(contextWith(r.Context(), keyRequestID, id))
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		elapsed := time.Since(start)
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(rec.status)).Inc()
		s.metrics.latency.WithLabelValues(route).Observe(elapsed.Seconds())
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelError
		}
		s.log.LogAttrs(r.Context(), level, "http request",
			slog.String("request_id", id),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("route", route),
			slog.Int("status", rec.status),
			slog.Int64("bytes", rec.bytes),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			slog.String("tenant", tenantOf(r)),
			slog.String("remote", r.RemoteAddr),
		)
	})
}

// keyring authenticates API keys in constant time per key. Keys are stored
// as SHA-256 digests so that comparisons have a fixed length.
type keyring struct {
	keys []hashedKey
}

type hashedKey struct {
	tenant string
	sum    [sha256.Size]byte
}

func newKeyring(keys []config.APIKey) *keyring {
	k := &keyring{}
	for _, key := range keys {
		k.keys = append(k.keys, hashedKey{tenant: key.Tenant, sum: sha256.Sum256([]byte(key.Key))})
	}
	return k
}

// tenant returns the tenant of key; it compares against every key so the
// time taken does not depend on which key matched.
func (k *keyring) tenant(key string) (string, bool) {
	sum := sha256.Sum256([]byte(key))
	found := ""
	for _, hk := range k.keys {
		if subtle.ConstantTimeCompare(sum[:], hk.sum[:]) == 1 {
			found = hk.tenant
		}
	}
	return found, found != ""
}

// presentedKey returns the key from "Authorization: Bearer <key>" or
// "X-API-Key: <key>".
func presentedKey(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(rest)
		}
		return ""
	}
	return strings.TrimSpace(r.Header.Get("X-API-Key"))
}

// authenticate rejects requests without a known key with 401 and stores the
// key's tenant in the request context.
func (s *Server) authenticate(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := presentedKey(r)
		tenant, ok := s.keys.tenant(key)
		if key == "" || !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="facefleet"`)
			s.metrics.authFailures.Inc()
			writeError(w, r, http.StatusUnauthorized, errcode.Unauthorized, "missing or unknown API key (Authorization: Bearer <key> or X-API-Key)")
			return
		}
		next(w, r.WithContext(contextWith(r.Context(), keyTenant, tenant)))
	}
}
