package fleet

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/facefleet/facefleet/worker/internal/pipeline"
)

// Source delivers job messages from JetStream.
type Source interface {
	// Fetch returns at most max messages. It may wait for messages up to a
	// short bound of its own (or until ctx is done) and then return none.
	Fetch(ctx context.Context, max int) ([]jetstream.Msg, error)
	// DeadLetter copies msg to the dead-letter queue with reason.
	DeadLetter(ctx context.Context, msg jetstream.Msg, reason string) error
	// Pending returns the number of messages waiting for the consumer.
	Pending(ctx context.Context) (uint64, error)
}

// Job is a decoded job message.
type Job struct {
	// ID is the job ID (also the status key and the result prefix).
	ID string
	// InputKey is the S3 key of the input image.
	InputKey string
	// Options select the outputs.
	Options pipeline.Options
}

// DecodeFunc decodes and validates a message body strictly. Any error marks
// the message as permanently bad; the returned Job's ID may be set even on
// error, so that the failure can be recorded.
type DecodeFunc func(data []byte) (Job, error)

// JobState is what the worker needs to know of a job's status record.
type JobState struct {
	// State is queued, running, succeeded, failed or canceled.
	State string
	// CancelRequested is set when the owner asked to cancel the job.
	CancelRequested bool
}

// Terminal reports whether the job is finished for good.
func (s JobState) Terminal() bool {
	switch s.State {
	case StatusSucceeded, StatusFailed, StatusCanceled:
		return true
	}
	return false
}

// StatusStore records job status.
type StatusStore interface {
	// State reads a job's state.
	State(ctx context.Context, id string) (JobState, error)
	// Start moves a job to running on delivery attempt by worker.
	Start(ctx context.Context, id, worker string, attempt int) error
	// Progress records the stage just finished and the percentage done.
	Progress(ctx context.Context, id, stage string, percent int) error
	// Succeed moves a job to succeeded with its output keys and stage
	// timings (milliseconds).
	Succeed(ctx context.Context, id string, outputs []string, timingsMS map[string]float64) error
	// Fail moves a job to failed with a machine code and a message.
	Fail(ctx context.Context, id, code, msg string) error
	// Cancel moves a job to canceled.
	Cancel(ctx context.Context, id string) error
}

// ImageStore reads inputs and writes results.
type ImageStore interface {
	// GetInput reads the input image at key.
	GetInput(ctx context.Context, key string) ([]byte, error)
	// PutResult stores one result file of job id at results/<id>/<rel>
	// and returns its key.
	PutResult(ctx context.Context, id, rel, contentType string, data []byte) (string, error)
}

// Processor runs one image through the reconstruction pipeline.
type Processor interface {
	Run(ctx context.Context, data []byte, o pipeline.Options, progress pipeline.Progress) (*pipeline.Output, error)
}

var _ Processor = (*pipeline.Pipeline)(nil)
