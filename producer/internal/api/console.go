package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/facefleet/facefleet/producer/client"
	"github.com/facefleet/facefleet/shared/errcode"
	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/status"
)

// The routes the web console needs besides the job routes: the option
// descriptions with their defaults (GET /v1/options, which also names the
// caller's tenant), the tenant's job list (GET /v1/jobs) and same-origin
// reads of a job's input and result files (the presigned URLs point at S3,
// which a browser page may not be allowed to fetch from).

// OptionField describes one job option for forms. The fields are read from
// job.Options (its JSON names and kinds) and the defaults from
// job.DefaultOptions, so a new scalar option shows up without a change here;
// optionBounds adds the known ranges and choices.
type OptionField struct {
	// Name is the JSON name in job.Options.
	Name string `json:"name"`
	// Type is "bool", "int", "string", "enum" (one of Choices) or "webhook"
	// (an object {url, events}; events ⊆ Choices, DefaultChoices when
	// omitted; no webhook when absent).
	Type    string   `json:"type"`
	Default any      `json:"default"`
	Min     *int     `json:"min,omitempty"`
	Max     *int     `json:"max,omitempty"`
	Choices []string `json:"choices,omitempty"`
	// DefaultChoices are the webhook events taken when none are given.
	DefaultChoices []string `json:"default_choices,omitempty"`
	// Help is a one-line description, when there is one.
	Help string `json:"help,omitempty"`
}

// OptionsView is the body of GET /v1/options.
type OptionsView struct {
	// Tenant of the presented API key.
	Tenant string `json:"tenant"`
	// Options in job.Options order.
	Options         []OptionField  `json:"options"`
	Priorities      []job.Priority `json:"priorities"`
	DefaultPriority job.Priority   `json:"default_priority"`
	MaxUploadBytes  int64          `json:"max_upload_bytes"`
}

func intp(v int) *int { return &v }

// optionBounds are the ranges, choices and help of the options that have
// them (owners: the job package's constants).
var optionBounds = map[string]OptionField{
	"geometry":  {Help: "mesh (OBJ, glTF), pose, depth and normal maps"},
	"head":      {Help: "fitted full head (glTF with 53 expressions, texture, OBJ); implies geometry"},
	"uv_size":   {Min: intp(job.MinUVSize), Max: intp(job.MaxUVSize), Help: "side of the square UV texture, pixels"},
	"uv_format": {Type: "enum", Choices: job.UVFormats(), Help: "UV texture file: png lossless; jpeg ~7× smaller, fastest (alpha in uv_alpha.png); webp ~16× smaller, slowest"},
	"detector":  {Type: "enum", Choices: []string{job.DetectorShort, job.DetectorFull}, Help: "short: faces within ~2 m; full: smaller, farther faces"},
	"max_faces": {Min: intp(job.MinMaxFaces), Max: intp(job.MaxMaxFaces), Help: "faces processed per photo"},
	"webhook": {Type: "webhook", Choices: job.WebhookEvents(), DefaultChoices: job.DefaultWebhookEvents(),
		Help: "POST the job to this URL on the chosen events (signed, retried)"},
}

// describeOptions lists job.Options' JSON fields with their defaults.
func describeOptions() []OptionField {
	var defaults map[string]any
	b, _ := json.Marshal(job.DefaultOptions())
	_ = json.Unmarshal(b, &defaults)
	t := reflect.TypeFor[job.Options]()
	var out []OptionField
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		d := optionBounds[name]
		d.Name = name
		switch f.Type.Kind() {
		case reflect.Bool:
			d.Default = false
			if d.Type == "" {
				d.Type = "bool"
			}
		case reflect.Int, reflect.Int32, reflect.Int64:
			d.Default = 0
			if d.Type == "" {
				d.Type = "int"
			}
		case reflect.String:
			d.Default = ""
			if d.Type == "" {
				d.Type = "string"
			}
		case reflect.Pointer:
			if f.Type.Elem() != reflect.TypeFor[job.Webhook]() {
				continue // an object the form does not know
			}
			d.Default = nil
		default:
			continue // not a form field
		}
		if v, ok := defaults[name]; ok {
			d.Default = v
		}
		out = append(out, d)
	}
	return out
}

func (s *Server) options(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, OptionsView{
		Tenant:          tenantOf(r),
		Options:         s.optionFields,
		Priorities:      job.Priorities(),
		DefaultPriority: job.PriorityNormal,
		MaxUploadBytes:  s.maxUpload,
	})
}

// ListView is the body of GET /v1/jobs.
type ListView struct {
	Jobs []client.Job `json:"jobs"`
	// Next is the before parameter of the following page; absent at the end.
	Next string `json:"next,omitempty"`
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > status.MaxListLimit {
			writeError(w, r, http.StatusBadRequest, errcode.BadRequest, fmt.Sprintf("limit must be 1..%d, got %q", status.MaxListLimit, v))
			return
		}
		limit = n
	}
	before := q.Get("before")
	if len(before) > 64 || !validRequestID(before) && before != "" {
		writeError(w, r, http.StatusBadRequest, errcode.BadRequest, "before must be a job ID")
		return
	}
	recs, next, err := s.jobs.List(r.Context(), tenantOf(r), before, limit)
	if err != nil {
		s.writeJobError(w, r, err)
		return
	}
	out := ListView{Jobs: make([]client.Job, 0, len(recs)), Next: next}
	for _, rec := range recs {
		out.Jobs = append(out.Jobs, jobView(rec, nil))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) input(w http.ResponseWriter, r *http.Request) {
	rec, ok := s.owned(w, r)
	if !ok {
		return
	}
	body, info, err := s.jobs.OpenInput(r.Context(), rec)
	s.stream(w, r, body, info.Size, info.ContentType, info.ETag, err)
}

func (s *Server) result(w http.ResponseWriter, r *http.Request) {
	rec, ok := s.owned(w, r)
	if !ok {
		return
	}
	body, info, err := s.jobs.OpenResult(r.Context(), rec, r.PathValue("name"))
	s.stream(w, r, body, info.Size, info.ContentType, info.ETag, err)
}

// stream copies an opened object to w. Inputs and results never change, so
// the browser may keep them (privately: they are the tenant's).
func (s *Server) stream(w http.ResponseWriter, r *http.Request, body io.ReadCloser, size int64, ctype, etag string, err error) {
	if errors.Is(err, client.ErrFileNotFound) {
		writeError(w, r, http.StatusNotFound, errcode.NotFound, "no such file")
		return
	}
	if err != nil {
		s.writeJobError(w, r, err)
		return
	}
	defer body.Close()
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	h.Set("Cache-Control", "private, max-age=86400, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	if etag != "" {
		h.Set("ETag", `"`+strings.Trim(etag, `"`)+`"`)
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := io.Copy(w, body); err != nil {
		s.log.WarnContext(r.Context(), "file stream cut", "request_id", requestID(r), "err", err)
	}
}
