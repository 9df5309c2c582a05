// Package api serves the producer's HTTP API (see docs/openapi.yaml): submit
// jobs by upload or by S3 key, read them, follow them as server-sent events,
// cancel them, list them, read their files, describe the job options; plus
// /healthz, /readyz and /metrics, and (Options.Console) the web console at /.
// Every /v1 route needs an API key and sees only its tenant's jobs.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/facefleet/facefleet/config"
	"github.com/facefleet/facefleet/producer/client"
	"github.com/facefleet/facefleet/shared/errcode"
	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/status"
	"github.com/facefleet/facefleet/shared/storage"
)

// Jobs is what the API needs from the client (*client.Client implements it).
type Jobs interface {
	Submit(ctx context.Context, req client.SubmitRequest) (status.Record, error)
	Get(ctx context.Context, id string) (status.Record, error)
	Watch(ctx context.Context, id string) (<-chan status.Record, error)
	Cancel(ctx context.Context, id string) (status.Record, error)
	ResultURLs(ctx context.Context, rec status.Record) ([]client.ResultFile, error)
	Ready(ctx context.Context) map[string]error
	List(ctx context.Context, tenant, before string, limit int) ([]status.Record, string, error)
	OpenInput(ctx context.Context, rec status.Record) (io.ReadCloser, storage.ObjectInfo, error)
	OpenResult(ctx context.Context, rec status.Record, name string) (io.ReadCloser, storage.ObjectInfo, error)
}

var _ Jobs = (*client.Client)(nil)

// Options configure a Server.
type Options struct {
	// Keys are the accepted API keys. Required (no keys = every /v1 request is 401).
	Keys []config.APIKey
	// MaxUploadBytes bounds an uploaded image. Default 32 MiB.
	MaxUploadBytes int64
	// Logger for the access log and errors. Default: discard.
	Logger *slog.Logger
	// Registerer for the API's metrics; /metrics serves Gatherer. Default: a
	// fresh registry (with Go and process collectors) serving both.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// SSEHeartbeat is the interval of ": ping" comments on idle event
	// streams. Default 15s.
	SSEHeartbeat time.Duration
	// Console serves the web console at / (GET / and its assets); nil serves
	// none (GET / is 404).
	Console http.Handler
}

// Server is the HTTP API.
type Server struct {
	jobs      Jobs
	keys      *keyring
	maxUpload int64
	log       *slog.Logger
	metrics   *metrics
	heartbeat time.Duration
	mux       *http.ServeMux
	routes    []string
	handler   http.Handler
	// optionFields is GET /v1/options' description of job.Options.
	optionFields []OptionField
}

// New builds the API on jobs.
func New(jobs Jobs, o Options) (*Server, error) {
	if o.MaxUploadBytes <= 0 {
		o.MaxUploadBytes = job.DefaultMaxImageBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SSEHeartbeat <= 0 {
		o.SSEHeartbeat = 15 * time.Second
	}
	if o.Registerer == nil {
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		o.Registerer, o.Gatherer = reg, reg
	}
	if o.Gatherer == nil {
		o.Gatherer = prometheus.DefaultGatherer
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Server{jobs: jobs, keys: newKeyring(o.Keys), maxUpload: o.MaxUploadBytes, log: o.Logger,
		metrics: m, heartbeat: o.SSEHeartbeat, mux: http.NewServeMux(), optionFields: describeOptions()}
	s.handle("GET /v1/options", s.authenticate(s.options))
	s.handle("POST /v1/jobs", s.authenticate(s.submit))
	s.handle("GET /v1/jobs", s.authenticate(s.list))
	s.handle("GET /v1/jobs/{id}", s.authenticate(s.get))
	s.handle("GET /v1/jobs/{id}/input", s.authenticate(s.input))
	s.handle("GET /v1/jobs/{id}/results/{name...}", s.authenticate(s.result))
	s.handle("DELETE /v1/jobs/{id}", s.authenticate(s.cancel))
	s.handle("GET /v1/jobs/{id}/events", s.authenticate(s.events))
	s.handle("GET /healthz", s.healthz)
	s.handle("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{}))
	s.routes = append(s.routes, "GET /metrics")
	if o.Console != nil {
		s.mux.Handle("GET /{$}", o.Console)
		s.mux.Handle("GET /assets/", o.Console)
		s.routes = append(s.routes, "GET /{$}", "GET /assets/")
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, errcode.NotFound, "no such route")
	})
	s.handler = s.logRequests(s.mux)
	return s, nil
}

func (s *Server) handle(pattern string, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, h)
	s.routes = append(s.routes, pattern)
}

// Routes lists the served routes as "METHOD /path" patterns.
func (s *Server) Routes() []string { return append([]string(nil), s.routes...) }

// Handler returns the API's http.Handler (request IDs, access log, routes).
func (s *Server) Handler() http.Handler { return s.handler }

// HTTPServer returns an http.Server for addr with the API's timeouts.
func (s *Server) HTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute, // large uploads on slow links
		WriteTimeout:      2 * time.Minute, // event streams lift it per request
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// Serve serves on ln until ctx ends, then shuts down gracefully (up to 10s;
// open event streams are cut).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := s.HTTPServer(ln.Addr().String())
	// Requests get a context that ends at shutdown, so event streams stop.
	streams, stopStreams := context.WithCancel(context.WithoutCancel(ctx))
	defer stopStreams()
	srv.RegisterOnShutdown(stopStreams)
	srv.BaseContext = func(net.Listener) context.Context { return streams }
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if rerr := <-errc; !errors.Is(rerr, http.ErrServerClosed) && rerr != nil {
		err = errors.Join(err, rerr)
	}
	return err
}

// submitJSON is the JSON body of POST /v1/jobs.
type submitJSON struct {
	Input struct {
		Key string `json:"key"`
	} `json:"input"`
	Options  *job.Options `json:"options"`
	Priority job.Priority `json:"priority"`
}

const maxJSONBody = 64 << 10

func (s *Server) submit(w http.ResponseWriter, r *http.Request) {
	req := client.SubmitRequest{Tenant: tenantOf(r)}
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		mediaType = ""
	}
	switch mediaType {
	case "multipart/form-data":
		// Room for the image plus the other fields and part headers.
		r.Body = http.MaxBytesReader(w, r.Body, s.maxUpload+maxJSONBody)
		if !s.readMultipart(w, r, params["boundary"], &req) {
			return
		}
	case "application/json":
		r.Body = http.MaxBytesReader(w, r.Body, maxJSONBody)
		var body submitJSON
		if !decodeStrict(w, r, r.Body, &body, errcode.BadRequest) {
			return
		}
		if body.Input.Key == "" {
			writeError(w, r, http.StatusBadRequest, errcode.BadRequest, "input.key is required")
			return
		}
		req.InputKey = body.Input.Key
		if body.Options != nil {
			req.Options = *body.Options
		}
		req.Priority = body.Priority
	default:
		writeError(w, r, http.StatusUnsupportedMediaType, errcode.UnsupportedMediaType,
			"send multipart/form-data with an image field, or application/json referencing input.key")
		return
	}
	rec, err := s.jobs.Submit(r.Context(), req)
	if err != nil {
		s.writeJobError(w, r, err)
		return
	}
	s.metrics.submitted.WithLabelValues(string(orNormal(req.Priority))).Inc()
	w.Header().Set("Location", "/v1/jobs/"+rec.ID)
	writeJSON(w, http.StatusAccepted, jobView(rec, nil))
}

func orNormal(p job.Priority) job.Priority {
	if p == "" {
		return job.PriorityNormal
	}
	return p
}

// readMultipart streams the parts: image (bounded), options (JSON),
// priority. It writes the error response and returns false on failure.
func (s *Server) readMultipart(w http.ResponseWriter, r *http.Request, boundary string, req *client.SubmitRequest) bool {
	if boundary == "" {
		writeError(w, r, http.StatusBadRequest, errcode.BadRequest, "multipart body without boundary")
		return false
	}
	mr, err := r.MultipartReader()
	if err != nil {
		writeError(w, r, http.StatusBadRequest, errcode.BadRequest, "bad multipart body: "+err.Error())
		return false
	}
	var image []byte
	seen := map[string]bool{}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			s.writeBodyError(w, r, err)
			return false
		}
		name := part.FormName()
		if seen[name] {
			writeError(w, r, http.StatusBadRequest, errcode.BadRequest, fmt.Sprintf("field %q given twice", name))
			return false
		}
		seen[name] = true
		switch name {
		case "image":
			image, err = io.ReadAll(io.LimitReader(part, s.maxUpload+1))
			if err != nil {
				s.writeBodyError(w, r, err)
				return false
			}
			if int64(len(image)) > s.maxUpload {
				writeError(w, r, http.StatusRequestEntityTooLarge, errcode.UploadTooLarge, fmt.Sprintf("the image is larger than %d bytes", s.maxUpload))
				return false
			}
			req.Filename = part.FileName()
		case "options":
			var opts job.Options
			if !decodeStrict(w, r, io.LimitReader(part, maxJSONBody), &opts, errcode.InvalidOptions) {
				return false
			}
			req.Options = opts
		case "priority":
			b, err := io.ReadAll(io.LimitReader(part, 64))
			if err != nil {
				s.writeBodyError(w, r, err)
				return false
			}
			req.Priority = job.Priority(strings.TrimSpace(string(b)))
		default:
			writeError(w, r, http.StatusBadRequest, errcode.BadRequest, fmt.Sprintf("unknown field %q (want image, options, priority)", name))
			return false
		}
	}
	if !seen["image"] {
		writeError(w, r, http.StatusBadRequest, errcode.BadRequest, "the image field is required")
		return false
	}
	req.Image = bytes.NewReader(image)
	return true
}

// decodeStrict decodes one JSON value, refusing unknown fields and trailing
// data; on failure it writes a 400 with code (or 413) and returns false.
func decodeStrict(w http.ResponseWriter, r *http.Request, body io.Reader, v any, code errcode.Code) bool {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errors.New("trailing data after the JSON value")
		}
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, r, http.StatusRequestEntityTooLarge, errcode.UploadTooLarge, fmt.Sprintf("the body is larger than %d bytes", mbe.Limit))
			return false
		}
		writeError(w, r, http.StatusBadRequest, code, "bad JSON: "+err.Error())
		return false
	}
	return true
}

func (s *Server) writeBodyError(w http.ResponseWriter, r *http.Request, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeError(w, r, http.StatusRequestEntityTooLarge, errcode.UploadTooLarge, fmt.Sprintf("the body is larger than %d bytes", mbe.Limit))
		return
	}
	writeError(w, r, http.StatusBadRequest, errcode.BadRequest, "bad request body: "+err.Error())
}

// writeJobError maps client errors to statuses.
func (s *Server) writeJobError(w http.ResponseWriter, r *http.Request, err error) {
	var code errcode.Code
	var coded interface{ Code() string }
	if errors.As(err, &coded) {
		code = errcode.Code(coded.Code())
	}
	switch {
	case errors.Is(err, client.ErrNotFound):
		writeError(w, r, http.StatusNotFound, errcode.NotFound, "no such job")
	case errors.Is(err, client.ErrInvalidOptions):
		writeError(w, r, http.StatusBadRequest, errcode.InvalidOptions, err.Error())
	case errors.Is(err, client.ErrTooLarge):
		writeError(w, r, http.StatusRequestEntityTooLarge, errcode.UploadTooLarge, err.Error())
	case errors.Is(err, client.ErrUnsupportedImage):
		writeError(w, r, http.StatusUnsupportedMediaType, code, err.Error())
	case errors.Is(err, client.ErrInvalidRequest), errors.Is(err, client.ErrInputNotFound):
		writeError(w, r, http.StatusBadRequest, code, err.Error())
	case errors.Is(err, client.ErrFinished):
		writeError(w, r, http.StatusConflict, errcode.Conflict, "the job already finished")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeError(w, r, http.StatusServiceUnavailable, errcode.Unavailable, "request cancelled or timed out")
	default:
		s.log.ErrorContext(r.Context(), "request failed", slog.String("request_id", requestID(r)), slog.Any("err", err))
		writeError(w, r, http.StatusInternalServerError, errcode.Internal, "internal error; see the server log for request "+requestID(r))
	}
}

// owned returns the job when it exists and belongs to the caller's tenant;
// otherwise it writes 404 (or the error) and returns false.
func (s *Server) owned(w http.ResponseWriter, r *http.Request) (status.Record, bool) {
	rec, err := s.jobs.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeJobError(w, r, err)
		return rec, false
	}
	if rec.Tenant != tenantOf(r) {
		writeError(w, r, http.StatusNotFound, errcode.NotFound, "no such job")
		return rec, false
	}
	return rec, true
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	rec, ok := s.owned(w, r)
	if !ok {
		return
	}
	files, err := s.jobs.ResultURLs(r.Context(), rec)
	if err != nil {
		s.writeJobError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, jobView(rec, files))
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.owned(w, r); !ok {
		return
	}
	rec, err := s.jobs.Cancel(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeJobError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, jobView(rec, nil))
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.owned(w, r); !ok {
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	ch, err := s.jobs.Watch(ctx, r.PathValue("id"))
	if err != nil {
		s.writeJobError(w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // streams outlive the server's write timeout
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()
	tick := time.NewTicker(s.heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := io.WriteString(w, ": ping\n\n"); err != nil {
				return
			}
			_ = rc.Flush()
		case rec, ok := <-ch:
			if !ok {
				return
			}
			var files []client.ResultFile
			if rec.State == status.StateSucceeded {
				files, _ = s.jobs.ResultURLs(ctx, rec)
			}
			data, err := json.Marshal(jobView(rec, files))
			if err != nil {
				return
			}
			if _, err := fmt.Fprintf(w, "id: %d\nevent: status\ndata: %s\n\n", rec.UpdatedAt.UnixNano(), data); err != nil {
				return
			}
			_ = rc.Flush()
			if rec.State.Terminal() {
				return
			}
		}
	}
}

// jobView is the API's job JSON.
func jobView(rec status.Record, files []client.ResultFile) client.Job {
	return client.Job{Record: rec, Results: files}
}

type health struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, health{Status: "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	problems := s.jobs.Ready(ctx)
	checks := map[string]string{"nats": "ok", "redis": "ok", "s3": "ok"}
	for k, err := range problems {
		checks[k] = err.Error()
	}
	if len(problems) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, health{Status: "unavailable", Checks: checks})
		return
	}
	writeJSON(w, http.StatusOK, health{Status: "ok", Checks: checks})
}

func contextWith(ctx context.Context, k ctxKey, v string) context.Context {
	return context.WithValue(ctx, k, v)
}
