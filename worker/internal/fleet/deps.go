package fleet

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/queue"
	"github.com/facefleet/facefleet/shared/status"
	"github.com/facefleet/facefleet/shared/storage"
	"github.com/facefleet/facefleet/shared/webhook"
	"github.com/facefleet/facefleet/worker/internal/pipeline"
)

// Fetcher pulls job messages, never more than asked for.
type Fetcher interface {
	// Fetch returns at most n messages, waiting up to maxWait for some.
	Fetch(ctx context.Context, n int, maxWait time.Duration) ([]jetstream.Msg, error)
}

// Queue is the rest of the job queue the worker uses.
type Queue interface {
	// DeadLetter copies msg to the dead-letter stream with why it was refused.
	DeadLetter(ctx context.Context, msg jetstream.Msg, r queue.Rejection) error
	// Lag reads the consumers' backlog.
	Lag(ctx context.Context) (queue.LagInfo, error)
}

// StatusStore records job status (shared/status semantics: transitions
// are monotonic, terminal records never change).
type StatusStore interface {
	// Create stores a queued record unless one exists (raw publishes).
	Create(ctx context.Context, rec status.Record) (status.Record, bool, error)
	// StartTenant starts the run unless the record belongs to another tenant.
	StartTenant(ctx context.Context, tenant, id, worker, device string, attempt int) (status.Record, error)
	Progress(ctx context.Context, id, stage string, percent int) (status.Record, error)
	Succeed(ctx context.Context, id string, outputs []string, timingsMS map[string]float64) (status.Record, error)
	// Reject fails the job, creating its record from rec when it has none.
	Reject(ctx context.Context, rec status.Record, code, msg string) (status.Record, error)
	Canceled(ctx context.Context, id string) (status.Record, error)
}

// Notifier hears of every transition the worker stores (job.Event*, the
// message and the record after the change) — webhooks. It must return at
// once; m is nil for a message that could not be decoded.
type Notifier interface {
	Notify(ctx context.Context, event string, m *job.Message, rec status.Record)
}

// noNotifier is the Notifier of a worker without webhooks.
type noNotifier struct{}

func (noNotifier) Notify(context.Context, string, *job.Message, status.Record) {}

// ImageStore reads inputs and writes results in S3.
type ImageStore interface {
	Get(ctx context.Context, key string, maxBytes int64) ([]byte, error)
	PutBytes(ctx context.Context, key string, b []byte, contentType string) error
}

// Processor runs one image through the reconstruction pipeline.
type Processor interface {
	Run(ctx context.Context, data []byte, o pipeline.Options, progress pipeline.Progress) (*pipeline.Output, error)
}

var (
	_ Fetcher     = (*queue.Fetcher)(nil)
	_ Queue       = (*queue.Queue)(nil)
	_ StatusStore = (*status.Store)(nil)
	_ ImageStore  = (*storage.Store)(nil)
	_ Processor   = (*pipeline.Pipeline)(nil)
	_ Notifier    = (*webhook.Outbox)(nil)
)
