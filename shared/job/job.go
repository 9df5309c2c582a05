// Package job defines the job message (version 1) that producers publish and
// workers consume: JSON with strict decoding, validation that reports every
// problem at once, and UUIDv7 job IDs.
//
//	{"version":1,"id":"<uuidv7>","tenant":"acme",
//	 "input":{"bucket":"facefleet","key":"inputs/<tenant>/<id>/photo.jpg"},
//	 "options":{"geometry":true,"uv_size":1024,"detector":"short","max_faces":1},
//	 "priority":"normal","submitted_at":"2026-01-02T03:04:05Z",
//	 "trace":{"traceparent":"00-…"}}
package job

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/facefleet/facefleet/shared/errcode"
)

// Version is the message version this package writes and accepts.
const Version = 1

// Limits.
const (
	// MaxMessageBytes bounds an encoded message; Decode refuses larger input.
	MaxMessageBytes = 16 << 10
	// DefaultMaxImageBytes (32 MiB) is the default bound on a job's input
	// image: the producer's upload limit (FACEFLEET_MAX_UPLOAD_BYTES) and the
	// worker's read and decode limit (FACEFLEET_MAX_IMAGE_BYTES).
	DefaultMaxImageBytes = 32 << 20
	// MaxKeyLen bounds an object key (bytes).
	MaxKeyLen = 1024
	// MaxTenantLen bounds a tenant name.
	MaxTenantLen = 64
	// MinUVSize and MaxUVSize bound Options.UVSize (pixels, square).
	MinUVSize, MaxUVSize = 256, 4096
	// MinMaxFaces and MaxMaxFaces bound Options.MaxFaces.
	MinMaxFaces, MaxMaxFaces = 1, 16
	// MaxTraceparentLen bounds Trace.Traceparent.
	MaxTraceparentLen = 128
	// MaxWebhookURLLen bounds Webhook.URL (bytes).
	MaxWebhookURLLen = 2048
)

// Webhook events: the job started running, reported a stage, or finished.
const (
	EventStarted   = "started"
	EventProgress  = "progress"
	EventSucceeded = "succeeded"
	EventFailed    = "failed"
	EventCanceled  = "canceled"
)

// WebhookEvents lists every webhook event, in the order a job meets them.
func WebhookEvents() []string {
	return []string{EventStarted, EventProgress, EventSucceeded, EventFailed, EventCanceled}
}

// DefaultWebhookEvents are the events of a webhook that names none: the
// terminal ones.
func DefaultWebhookEvents() []string { return []string{EventSucceeded, EventFailed, EventCanceled} }

// Webhook asks the fleet to POST the job's record to URL on each of Events
// (Standard Webhooks: signed with the tenant's secret, retried with backoff).
type Webhook struct {
	// URL is an http or https URL without user info or fragment, at most
	// MaxWebhookURLLen bytes. Whether the fleet may call its address is
	// decided on delivery (private addresses are refused unless allowed).
	URL string `json:"url"`
	// Events ⊆ WebhookEvents(), without repeats; omitted: DefaultWebhookEvents.
	Events []string `json:"events,omitempty"`
}

// Wants reports whether the webhook asked for event.
func (w *Webhook) Wants(event string) bool {
	if w == nil {
		return false
	}
	events := w.Events
	if len(events) == 0 {
		events = DefaultWebhookEvents()
	}
	return slices.Contains(events, event)
}

// validate appends the webhook's problems (fields "options.webhook.*").
func (w *Webhook) validate(errs []error) []error {
	add := func(field, problem string) { errs = append(errs, &FieldError{"options.webhook." + field, problem}) }
	u, err := url.Parse(w.URL)
	switch {
	case w.URL == "":
		add("url", "required")
	case len(w.URL) > MaxWebhookURLLen:
		add("url", fmt.Sprintf("longer than %d bytes", MaxWebhookURLLen))
	case err != nil || !u.IsAbs() || u.Opaque != "":
		add("url", "must be an absolute http or https URL")
	case u.Scheme != "http" && u.Scheme != "https":
		add("url", fmt.Sprintf("scheme must be http or https, got %q", u.Scheme))
	case u.Hostname() == "":
		add("url", "must name a host")
	case u.User != nil:
		add("url", "must not contain user info (credentials)")
	case u.Fragment != "" || strings.Contains(w.URL, "#"):
		add("url", "must not contain a fragment")
	case strings.IndexFunc(w.URL, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0:
		add("url", "must not contain spaces or control characters")
	}
	if w.Events != nil && len(w.Events) == 0 {
		add("events", "must not be empty (omit it for the terminal events)")
	}
	seen := map[string]bool{}
	for _, e := range w.Events {
		switch {
		case !slices.Contains(WebhookEvents(), e):
			add("events", fmt.Sprintf("unknown event %q (want %s)", e, strings.Join(WebhookEvents(), ", ")))
		case seen[e]:
			add("events", fmt.Sprintf("%q given twice", e))
		}
		seen[e] = true
	}
	return errs
}

// Defaults applied by Options.WithDefaults.
const (
	DefaultUVSize   = 1024
	DefaultUVFormat = UVFormatPNG
	DefaultDetector = DetectorShort
	// DefaultMaxFaces is every face up to the bound: a group photo gives
	// all its faces unless the job asks for fewer.
	DefaultMaxFaces = MaxMaxFaces
)

// UV texture formats (Options.UVFormat): PNG is lossless with the alpha
// (texels seen or mirror-filled) in the file; JPEG is lossy, smaller and
// fastest to write, with the alpha as a separate greyscale PNG
// (uv_alpha.png); WebP is lossy with the alpha in the same file.
const (
	UVFormatPNG  = "png"
	UVFormatJPEG = "jpeg"
	UVFormatWebP = "webp"
)

// UVFormats lists the UV texture formats, the default first.
func UVFormats() []string { return []string{UVFormatPNG, UVFormatJPEG, UVFormatWebP} }

// Detector names: short-range (faces within ~2 m, 128×128) or full-range (256×256).
const (
	DetectorShort = "short"
	DetectorFull  = "full"
)

// Priority of a job; each maps to its own subject and consumer.
type Priority string

// Priorities, highest first.
const (
	PriorityHigh   Priority = "high"
	PriorityNormal Priority = "normal"
	PriorityLow    Priority = "low"
)

// Priorities lists every priority, highest first (the fetch order).
func Priorities() []Priority { return []Priority{PriorityHigh, PriorityNormal, PriorityLow} }

// Valid reports whether p is one of the known priorities.
func (p Priority) Valid() bool {
	return p == PriorityHigh || p == PriorityNormal || p == PriorityLow
}

// Sentinel errors.
var (
	// ErrInvalid is wrapped by every validation problem (*FieldError).
	ErrInvalid = errors.New("job: invalid message")
	// ErrMalformed is returned for input that is not a single well-formed JSON
	// object of the expected shape (syntax, unknown fields, wrong types).
	ErrMalformed = errors.New("job: malformed message")
	// ErrTooLarge is returned for input larger than MaxMessageBytes.
	ErrTooLarge = errors.New("job: message too large")
	// ErrUnsupportedVersion is returned when version is not Version.
	ErrUnsupportedVersion = errors.New("job: unsupported message version")
)

// FieldError is one validation problem. It wraps ErrInvalid.
type FieldError struct {
	// Field is the JSON path, e.g. "input.key" or "options.uv_size".
	Field string
	// Problem says what is wrong, e.g. "required" or "must be 256..4096".
	Problem string
}

func (e *FieldError) Error() string { return "job: " + e.Field + ": " + e.Problem }

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Code is the machine code stored in status records.
func (e *FieldError) Code() string { return errcode.InvalidJob.String() }

// Input locates the uploaded image.
type Input struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
}

// Options select what the worker produces. The UV texture is always made.
type Options struct {
	// Geometry adds mesh.obj/mtl/glb, pose, depth and normal maps.
	Geometry bool `json:"geometry"`
	// Head adds the fitted ICT-FaceKit head per face (head.glb with the 53
	// expressions as morph targets, head_texture.png, head.obj/mtl and the
	// result's "head" object). It implies Geometry (see WantsGeometry).
	Head bool `json:"head"`
	// UVSize is the side of the square UV texture in pixels (256..4096).
	UVSize int `json:"uv_size"`
	// UVFormat is the UV texture's file format: "png", "jpeg" (with the
	// alpha in uv_alpha.png) or "webp" (UVFormats).
	UVFormat string `json:"uv_format"`
	// Detector is "short" or "full".
	Detector string `json:"detector"`
	// MaxFaces caps the faces processed per image (1..16).
	MaxFaces int `json:"max_faces"`
	// Webhook, when set, announces the job's events to an HTTP endpoint.
	Webhook *Webhook `json:"webhook,omitempty"`
}

// WantsGeometry reports whether the geometry outputs are made: asked for,
// or implied by Head.
func (o Options) WantsGeometry() bool { return o.Geometry || o.Head }

// DefaultOptions returns the options of a message that omits "options" or
// some of its fields: no geometry, no head, DefaultUVSize, DefaultUVFormat,
// DefaultDetector, DefaultMaxFaces.
func DefaultOptions() Options {
	return Options{UVSize: DefaultUVSize, UVFormat: DefaultUVFormat, Detector: DefaultDetector, MaxFaces: DefaultMaxFaces}
}

// UnmarshalJSON decodes options strictly (unknown fields are an error) and
// gives every field the JSON omits its default (DefaultOptions); a field
// given explicitly keeps its value, so "uv_size": 0 stays 0 and fails
// Validate. This is how raw messages from any publisher get the documented
// defaults.
func (o *Options) UnmarshalJSON(b []byte) error {
	type plain Options // no methods: no recursion
	p := plain(DefaultOptions())
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("options: %w", err)
	}
	*o = Options(p).withWebhookDefaults()
	return nil
}

// withWebhookDefaults gives a webhook without events the default ones
// (on a copy: o.Webhook may be shared).
func (o Options) withWebhookDefaults() Options {
	if o.Webhook != nil && o.Webhook.Events == nil {
		w := *o.Webhook
		w.Events = DefaultWebhookEvents()
		o.Webhook = &w
	}
	return o
}

// WithDefaults returns o with zero fields set to their defaults (for
// options built in Go, where a zero field means "not set").
func (o Options) WithDefaults() Options {
	if o.UVSize == 0 {
		o.UVSize = DefaultUVSize
	}
	if o.UVFormat == "" {
		o.UVFormat = DefaultUVFormat
	}
	if o.Detector == "" {
		o.Detector = DefaultDetector
	}
	if o.MaxFaces == 0 {
		o.MaxFaces = DefaultMaxFaces
	}
	return o.withWebhookDefaults()
}

// Validate reports every problem with o (fields prefixed "options.").
func (o Options) Validate() error {
	var errs []error
	if o.UVSize < MinUVSize || o.UVSize > MaxUVSize {
		errs = append(errs, &FieldError{"options.uv_size", fmt.Sprintf("must be %d..%d, got %d", MinUVSize, MaxUVSize, o.UVSize)})
	}
	if !slices.Contains(UVFormats(), o.UVFormat) {
		errs = append(errs, &FieldError{"options.uv_format", fmt.Sprintf("must be one of %s, got %q", strings.Join(UVFormats(), ", "), o.UVFormat)})
	}
	if o.Detector != DetectorShort && o.Detector != DetectorFull {
		errs = append(errs, &FieldError{"options.detector", fmt.Sprintf("must be %q or %q, got %q", DetectorShort, DetectorFull, o.Detector)})
	}
	if o.MaxFaces < MinMaxFaces || o.MaxFaces > MaxMaxFaces {
		errs = append(errs, &FieldError{"options.max_faces", fmt.Sprintf("must be %d..%d, got %d", MinMaxFaces, MaxMaxFaces, o.MaxFaces)})
	}
	if o.Webhook != nil {
		errs = o.Webhook.validate(errs)
	}
	return errors.Join(errs...)
}

// Trace carries W3C trace context across the queue.
type Trace struct {
	Traceparent string `json:"traceparent,omitempty"`
	Tracestate  string `json:"tracestate,omitempty"`
}

// Message is a job message, version 1.
type Message struct {
	Version     int       `json:"version"`
	ID          string    `json:"id"`
	Tenant      string    `json:"tenant"`
	Input       Input     `json:"input"`
	Options     Options   `json:"options"`
	Priority    Priority  `json:"priority"`
	SubmittedAt time.Time `json:"submitted_at"`
	Trace       *Trace    `json:"trace,omitempty"`
}

// NewID returns a new job ID: a UUIDv7 string (time-ordered).
func NewID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("job: new id: %w", err)
	}
	return id.String(), nil
}

// New builds a version-1 message with a fresh ID, SubmittedAt = now (UTC),
// defaulted options and priority normal when empty. It does not validate.
func New(tenant string, in Input, opts Options, prio Priority, now time.Time) (*Message, error) {
	id, err := NewID()
	if err != nil {
		return nil, err
	}
	if prio == "" {
		prio = PriorityNormal
	}
	return &Message{Version: Version, ID: id, Tenant: tenant, Input: in, Options: opts.WithDefaults(),
		Priority: prio, SubmittedAt: now.UTC()}, nil
}

// Validate reports every problem with m as errors.Join of *FieldError
// (each wrapping ErrInvalid), or nil.
func (m *Message) Validate() error {
	var errs []error
	add := func(field, problem string) { errs = append(errs, &FieldError{field, problem}) }
	if m.Version != Version {
		add("version", fmt.Sprintf("must be %d, got %d", Version, m.Version))
	}
	if m.ID == "" {
		add("id", "required")
	} else if !ValidID(m.ID) {
		add("id", "must be a lowercase canonical UUIDv7")
	}
	switch {
	case m.Tenant == "":
		add("tenant", "required")
	case len(m.Tenant) > MaxTenantLen:
		add("tenant", fmt.Sprintf("longer than %d bytes", MaxTenantLen))
	case !ValidTenant(m.Tenant):
		add("tenant", "may contain only letters, digits, '-', '_' and '.'")
	}
	if m.Input.Bucket == "" {
		add("input.bucket", "required")
	} else if !ValidBucket(m.Input.Bucket) {
		add("input.bucket", "not a valid bucket name")
	}
	if err := ValidateKey(m.Input.Key); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			add("input.key", fe.Problem)
		}
	} else if ValidTenant(m.Tenant) && !strings.HasPrefix(m.Input.Key, InputPrefix(m.Tenant)) {
		add("input.key", fmt.Sprintf("must lie under the tenant's prefix %q", InputPrefix(m.Tenant)))
	}
	if err := m.Options.Validate(); err != nil {
		errs = append(errs, err)
	}
	if !m.Priority.Valid() {
		add("priority", fmt.Sprintf("must be high, normal or low, got %q", m.Priority))
	}
	if m.SubmittedAt.IsZero() {
		add("submitted_at", "required")
	}
	if m.Trace != nil && (len(m.Trace.Traceparent) > MaxTraceparentLen || len(m.Trace.Tracestate) > 512) {
		add("trace", "too long")
	}
	return errors.Join(errs...)
}

// InputPrefix is where a tenant's inputs live: "inputs/<tenant>/". A job's
// input.key must start with it, so that a job can only ever read its own
// tenant's uploads (the producer uploads to inputs/<tenant>/<job-id>/).
func InputPrefix(tenant string) string { return "inputs/" + tenant + "/" }

// ValidID reports whether id is a job ID: a lowercase canonical UUIDv7
// (36 characters, like "0190b3c4-6b1d-7f3e-8a2b-1c2d3e4f5a6b").
func ValidID(id string) bool {
	if len(id) != 36 {
		return false
	}
	u, err := uuid.Parse(id)
	return err == nil && u.Version() == 7 && u.String() == id
}

// ValidateKey checks an object key: non-empty, at most MaxKeyLen bytes, valid
// UTF-8, no leading '/', no control characters, no "." or ".." path segment,
// no empty segment ("//"). The error is a *FieldError for "key".
func ValidateKey(key string) error {
	problem := ""
	switch {
	case key == "":
		problem = "required"
	case len(key) > MaxKeyLen:
		problem = fmt.Sprintf("longer than %d bytes", MaxKeyLen)
	case !utf8.ValidString(key):
		problem = "not valid UTF-8"
	case strings.HasPrefix(key, "/"):
		problem = "must not start with '/'"
	case strings.IndexFunc(key, unicode.IsControl) >= 0:
		problem = "must not contain control characters"
	default:
		for seg := range strings.SplitSeq(key, "/") {
			if seg == ".." || seg == "." {
				problem = "must not contain '.' or '..' segments"
				break
			}
			if seg == "" {
				problem = "must not contain empty segments"
				break
			}
		}
		if problem == "" && strings.Contains(key, "\\") {
			problem = "must not contain '\\'"
		}
	}
	if problem == "" {
		return nil
	}
	return &FieldError{Field: "key", Problem: problem}
}

// ValidTenant reports whether s is a tenant name a message may carry: 1 to
// MaxTenantLen bytes of letters, digits, '-', '_' and '.'.
func ValidTenant(s string) bool {
	if s == "" || len(s) > MaxTenantLen {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// ValidProducerTenant reports whether s is a tenant the producer submits
// for (HTTP API keys, the CLI and Go client's FACEFLEET_TENANT): a
// ValidTenant without '.', so that it is safe in S3 keys and Redis keys
// whatever else the name sits beside.
func ValidProducerTenant(s string) bool {
	return ValidTenant(s) && !strings.Contains(s, ".")
}

// ValidBucket reports whether s is an S3 bucket name facefleet accepts:
// 3 to 63 bytes of lowercase letters, digits, '-' and '.', beginning and
// ending with a letter or digit. It is the rule for a message's
// input.bucket and for FACEFLEET_S3_BUCKET.
func ValidBucket(s string) bool {
	if len(s) < 3 || len(s) > 63 {
		return false
	}
	alnum := func(r byte) bool { return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' }
	if !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// required lists the fields that must be present in the JSON object;
// "options" (DefaultOptions), "priority" (normal) and "trace" may be omitted.
var required = []string{"version", "id", "tenant", "input", "submitted_at"}

// Decode parses and validates a message. It refuses input larger than
// MaxMessageBytes (ErrTooLarge), unknown fields, trailing data and wrong types
// (ErrMalformed), other versions (ErrUnsupportedVersion), and then returns
// Validate's errors (ErrInvalid) — missing required fields included. Omitted
// options take their defaults (DefaultOptions, field by field) and an omitted
// priority is normal, so a message written by hand in any language needs
// only version, id, tenant, input and submitted_at (docs/job.schema.json).
func Decode(data []byte) (*Message, error) {
	if len(data) > MaxMessageBytes {
		return nil, fmt.Errorf("%w: %d bytes > %d", ErrTooLarge, len(data), MaxMessageBytes)
	}
	// Presence check first, so a missing field is reported as such rather
	// than as its zero value.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if v, ok := raw["version"]; ok {
		var ver int
		if err := json.Unmarshal(v, &ver); err != nil {
			return nil, fmt.Errorf("%w: version: %v", ErrMalformed, err)
		}
		if ver != Version {
			return nil, fmt.Errorf("%w: %d", ErrUnsupportedVersion, ver)
		}
	}
	var missing []error
	for _, f := range required {
		if v, ok := raw[f]; !ok || string(v) == "null" {
			missing = append(missing, &FieldError{Field: f, Problem: "required"})
		}
	}
	if len(missing) > 0 {
		return nil, errors.Join(missing...)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	m := Message{Options: DefaultOptions()}
	if v, ok := raw["priority"]; !ok || string(v) == "null" {
		m.Priority = PriorityNormal
	}
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the object", ErrMalformed)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Encode validates m and returns its JSON encoding.
func (m *Message) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("job: encode: %w", err)
	}
	if len(b) > MaxMessageBytes {
		return nil, fmt.Errorf("%w: %d bytes > %d", ErrTooLarge, len(b), MaxMessageBytes)
	}
	return b, nil
}
