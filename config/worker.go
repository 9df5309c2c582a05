package config

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/facefleet/facefleet/shared/device"
	"github.com/facefleet/facefleet/shared/webhook"
)

// Worker is the configuration of the worker binary.
type Worker struct {
	NATS
	Redis
	S3
	Log

	// Devices lists the inference devices: "cpu", "all" (every GPU found), or
	// a comma-separated list like "cuda:0,cuda:1".
	// Env FACEFLEET_DEVICES, default "cpu".
	Devices string `env:"DEVICES" default:"cpu" usage:"inference devices: cpu | cuda:0,cuda:1 | all"`
	// GPUProvider is the ONNX Runtime execution provider for GPUs: cuda or
	// tensorrt. Env FACEFLEET_GPU_PROVIDER, default "cuda".
	GPUProvider string `env:"GPU_PROVIDER" default:"cuda" usage:"GPU execution provider: cuda|tensorrt"`
	// Precision is auto, fp16 or fp32; auto = fp16 on GPU, the benchmark
	// winner on CPU. Env FACEFLEET_PRECISION, default "auto".
	Precision string `env:"PRECISION" default:"auto" usage:"model precision: auto|fp16|fp32"`
	// ORTLib is the path to libonnxruntime.so; empty lets the runtime search
	// the system library path. Env FACEFLEET_ORT_LIB, default "".
	ORTLib string `env:"ORT_LIB" default:"" usage:"path to libonnxruntime.so"`
	// SlotsPerDevice is how many jobs run concurrently on each device.
	// Two overlap one job's CPU stages and upload with the next job's
	// inference (measured: 1.4× fleet throughput on CPU over one slot).
	// Env FACEFLEET_SLOTS_PER_DEVICE, default 2.
	SlotsPerDevice int `env:"SLOTS_PER_DEVICE" default:"2" usage:"concurrent jobs per device"`
	// IntraOpThreads is ONNX Runtime's intra-op thread count per session;
	// 0 = engine.DefaultIntraOpThreads (1: scale with slots, not threads).
	// Env FACEFLEET_INTRA_OP_THREADS, default 0.
	IntraOpThreads int `env:"INTRA_OP_THREADS" default:"0" usage:"ORT intra-op threads per session (0 = the engine's default, 1)"`
	// GCPercent is the Go garbage collector's target (what GOGC sets): the
	// heap may grow to (1 + GCPercent/100) × the live heap before the next
	// collection. The pipeline's big buffers (images, textures, encoded
	// files) hold no pointers, so collecting more often costs little CPU and
	// keeps two slots' peak memory down (docs/PERFORMANCE.md has the
	// figures). A GOGC environment variable, when set, wins.
	// Env FACEFLEET_GC_PERCENT, default 25.
	GCPercent int `env:"GC_PERCENT" default:"25" usage:"Go GC target percent, as GOGC (a GOGC variable wins)"`
	// JobTimeout bounds one job's processing.
	// Env FACEFLEET_JOB_TIMEOUT, default 5m.
	JobTimeout time.Duration `env:"JOB_TIMEOUT" default:"5m" usage:"per-job timeout"`
	// DrainTimeout bounds how long shutdown waits for in-flight jobs before
	// cancelling them. Env FACEFLEET_DRAIN_TIMEOUT, default 60s.
	DrainTimeout time.Duration `env:"DRAIN_TIMEOUT" default:"60s" usage:"shutdown drain timeout"`
	// HTTPAddr is the listen address of /healthz, /readyz and /metrics.
	// Env FACEFLEET_HTTP_ADDR, default ":8081".
	HTTPAddr string `env:"HTTP_ADDR" default:":8081" usage:"health/metrics listen address"`
	// MaxImageBytes is the largest accepted input file in bytes.
	// Env FACEFLEET_MAX_IMAGE_BYTES, default 33554432 (32 MiB).
	MaxImageBytes int64 `env:"MAX_IMAGE_BYTES" default:"33554432" usage:"largest input file in bytes"`
	// MaxImagePixels is the largest accepted decoded image (width × height).
	// Env FACEFLEET_MAX_IMAGE_PIXELS, default 50000000.
	MaxImagePixels int64 `env:"MAX_IMAGE_PIXELS" default:"50000000" usage:"largest decoded image in pixels"`
	// WorkerName names this worker in logs, heartbeats and status records.
	// Env FACEFLEET_WORKER_NAME, default the host name.
	WorkerName string `env:"WORKER_NAME" default:"" usage:"worker name (default: host name)"`

	// WebhookSecrets are the per-tenant webhook signing secrets,
	// comma-separated "tenant:whsec_…" pairs; tenant "*" signs for every
	// tenant without its own (local use). Secret; redacted when printed.
	// Env FACEFLEET_WEBHOOK_SECRETS, default "" (none: webhooks are dropped).
	WebhookSecrets string `env:"WEBHOOK_SECRETS" default:"" secret:"true" usage:"webhook secrets: tenant:whsec_…,tenant2:whsec_… (* = any tenant)"`
	// WebhookSecretsFile names a file of "tenant:whsec_…" lines (# comments
	// and blank lines allowed), read before WebhookSecrets.
	// Env FACEFLEET_WEBHOOK_SECRETS_FILE, default "" (none).
	WebhookSecretsFile string `env:"WEBHOOK_SECRETS_FILE" default:"" usage:"file of tenant:whsec_… lines"`
	// WebhookAllow lists the non-public addresses webhooks may reach,
	// comma-separated CIDR prefixes or addresses (e.g. "127.0.0.0/8,::1" for
	// a receiver on the same machine). Loopback, private, link-local and
	// other non-public addresses are refused unless listed.
	// Env FACEFLEET_WEBHOOK_ALLOW, default "" (public addresses only).
	WebhookAllow string `env:"WEBHOOK_ALLOW" default:"" usage:"non-public CIDRs webhooks may reach (default none)"`
	// WebhookRetryFor bounds how long one webhook event is retried.
	// Env FACEFLEET_WEBHOOK_RETRY_FOR, default 24h.
	WebhookRetryFor time.Duration `env:"WEBHOOK_RETRY_FOR" default:"24h" usage:"how long a webhook event is retried"`
	// WebhookTimeout bounds one webhook attempt (1s..59s).
	// Env FACEFLEET_WEBHOOK_TIMEOUT, default 10s.
	WebhookTimeout time.Duration `env:"WEBHOOK_TIMEOUT" default:"10s" usage:"timeout of one webhook attempt"`
}

// ParseWebhookSecrets parses "tenant:whsec_…" lines (blank lines and '#'
// comments skipped). A bad tenant (other than "*"), a bad secret or a tenant
// listed twice is an error wrapping ErrInvalid; messages never contain a
// secret.
func ParseWebhookSecrets(text string) (map[string]webhook.Secret, error) {
	out := map[string]webhook.Secret{}
	var errs []error
	for i, line := range strings.Split(text, "\n") {
		s := strings.TrimSpace(line)
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		tenant, secret, ok := strings.Cut(s, ":")
		tenant = strings.TrimSpace(tenant)
		if !ok {
			errs = append(errs, fmt.Errorf("%w: webhook secrets line %d: want tenant:whsec_…", ErrInvalid, i+1))
			continue
		}
		if tenant != "*" && !ValidTenant(tenant) {
			errs = append(errs, fmt.Errorf("%w: webhook secrets line %d: bad tenant %q", ErrInvalid, i+1, tenant))
			continue
		}
		key, err := webhook.ParseSecret(secret)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: webhook secrets line %d (tenant %q): want whsec_ + base64 of %d..%d bytes",
				ErrInvalid, i+1, tenant, webhook.MinSecretBytes, webhook.MaxSecretBytes))
			continue
		}
		if _, dup := out[tenant]; dup {
			errs = append(errs, fmt.Errorf("%w: webhook secrets line %d: tenant %q listed twice", ErrInvalid, i+1, tenant))
			continue
		}
		out[tenant] = key
	}
	return out, errors.Join(errs...)
}

// LoadWebhookSecrets returns the secrets of WebhookSecretsFile and
// WebhookSecrets.
func (w Worker) LoadWebhookSecrets() (map[string]webhook.Secret, error) {
	var text string
	if w.WebhookSecretsFile != "" {
		b, err := os.ReadFile(w.WebhookSecretsFile)
		if err != nil {
			return nil, fmt.Errorf("config: webhook secrets file: %w", err)
		}
		text = string(b)
	}
	return ParseWebhookSecrets(text + "\n" + strings.ReplaceAll(w.WebhookSecrets, ",", "\n"))
}

// WebhookPolicy is the webhook target policy WebhookAllow selects.
func (w Worker) WebhookPolicy() (webhook.Policy, error) {
	allow, err := webhook.ParseAllow(w.WebhookAllow)
	if err != nil {
		return webhook.Policy{}, fieldErr("webhook_allow", "%v", err)
	}
	return webhook.Policy{Allow: allow}, nil
}

// fillWorker fills values whose default is computed.
func fillWorker(w *Worker) error {
	if w.WorkerName == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "worker"
		}
		w.WorkerName = h
	}
	return nil
}

// DeviceList splits Devices into its items ("cpu", "all", "cuda:0", ...).
func (w Worker) DeviceList() []string {
	var out []string
	for d := range strings.SplitSeq(w.Devices, ",") {
		if d = strings.TrimSpace(d); d != "" {
			out = append(out, strings.ToLower(d))
		}
	}
	return out
}

// Validate reports every problem of w at once; each wraps ErrInvalid.
func (w Worker) Validate() error {
	errs := commonValidate(w.NATS, w.Redis, w.S3, w.Log)
	devs := w.DeviceList()
	if len(devs) == 0 {
		errs = append(errs, fieldErr("devices", "must not be empty"))
	}
	// Each device's syntax is shared/device's (what the worker parses at
	// start); a device listed twice is the worker's to refuse
	// (fleet.ParseDevices), once it knows the GPU provider.
	for _, d := range devs {
		if d == device.All {
			if len(devs) > 1 {
				errs = append(errs, fieldErr("devices", "\"all\" cannot be combined with other devices"))
			}
			continue
		}
		if _, err := device.Parse(d); err != nil {
			errs = append(errs, fieldErr("devices", "%q is not cpu, all, cuda:N or tensorrt:N", d))
		}
	}
	switch w.GPUProvider {
	case "cuda", "tensorrt":
	default:
		errs = append(errs, fieldErr("gpu_provider", "%q is not one of cuda, tensorrt", w.GPUProvider))
	}
	if _, err := device.ParsePrecision(w.Precision); err != nil {
		errs = append(errs, fieldErr("precision", "%q is not one of auto, fp16, fp32", w.Precision))
	}
	if w.SlotsPerDevice < 1 {
		errs = append(errs, fieldErr("slots_per_device", "must be ≥ 1, got %d", w.SlotsPerDevice))
	}
	if w.IntraOpThreads < 0 {
		errs = append(errs, fieldErr("intra_op_threads", "must be ≥ 0, got %d", w.IntraOpThreads))
	}
	if w.GCPercent < 1 {
		errs = append(errs, fieldErr("gc_percent", "must be ≥ 1, got %d", w.GCPercent))
	}
	errs = append(errs, positive("job_timeout", w.JobTimeout), positive("drain_timeout", w.DrainTimeout))
	errs = append(errs, validAddr("http_addr", w.HTTPAddr))
	if w.MaxImageBytes < 1 {
		errs = append(errs, fieldErr("max_image_bytes", "must be ≥ 1, got %d", w.MaxImageBytes))
	}
	if w.MaxImagePixels < 1 {
		errs = append(errs, fieldErr("max_image_pixels", "must be ≥ 1, got %d", w.MaxImagePixels))
	}
	if _, err := ParseWebhookSecrets(strings.ReplaceAll(w.WebhookSecrets, ",", "\n")); err != nil {
		errs = append(errs, fieldErr("webhook_secrets", "%v", err))
	}
	if _, err := w.WebhookPolicy(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, positive("webhook_retry_for", w.WebhookRetryFor))
	if w.WebhookTimeout < time.Second || w.WebhookTimeout >= time.Minute {
		errs = append(errs, fieldErr("webhook_timeout", "must be 1s..59s, got %s", w.WebhookTimeout))
	}
	if w.WorkerName == "" || strings.ContainsAny(w.WorkerName, " \t\r\n.*>") {
		errs = append(errs, fieldErr("worker_name", "%q must be non-empty without spaces, '.', '*' or '>'", w.WorkerName))
	}
	return errors.Join(errs...)
}

// String renders w with secrets redacted.
func (w Worker) String() string { return format(w) }

// LogValue renders w for slog with secrets redacted.
func (w Worker) LogValue() slog.Value { return logValue(w) }

// GoString keeps %#v from printing secrets.
func (w Worker) GoString() string { return format(w) }

var (
	_ fmt.Stringer   = Worker{}
	_ fmt.GoStringer = Worker{}
	_ slog.LogValuer = Worker{}
)
