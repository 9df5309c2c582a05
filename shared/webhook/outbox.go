package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/queue"
	"github.com/facefleet/facefleet/shared/status"
	"github.com/facefleet/facefleet/shared/storage"
)

// Headers of a stored delivery (internal to the outbox stream).
const (
	hdrID      = "Facefleet-Webhook-Id"
	hdrURL     = "Facefleet-Webhook-Url"
	hdrCreated = "Facefleet-Webhook-Created"
)

// Payload is the JSON body of every delivery.
type Payload struct {
	// Type is "job." + the event: job.started, job.progress, job.succeeded,
	// job.failed, job.canceled.
	Type string `json:"type"`
	// Timestamp is when the event happened (the record's updated_at).
	Timestamp time.Time `json:"timestamp"`
	// Data is the job as GET /v1/jobs/{id} shows it.
	Data Job `json:"data"`
}

// Job is a status record with its presigned results (succeeded jobs).
type Job struct {
	status.Record
	Results []storage.ResultFile `json:"results,omitempty"`
}

// ID is the webhook-id of the event that produced rec: one per record
// revision, so each transition is announced under its own ID and a
// repeated announcement of the same transition keeps it.
func ID(rec status.Record) string { return fmt.Sprintf("msg_%s_%d", rec.ID, rec.Revision) }

// Presigner signs result URLs (*storage.Store).
type Presigner interface {
	PresignResults(ctx context.Context, jobID string, keys []string) ([]storage.ResultFile, error)
}

var _ Presigner = (*storage.Store)(nil)

// Outbox stores webhook deliveries in the webhook stream for Dispatchers.
type Outbox struct {
	js      jetstream.JetStream
	subject string
	stream  string
	results Presigner
	log     *slog.Logger
	now     func() time.Time
}

// NewOutbox returns an Outbox on the provisioned webhook stream of qcfg.
func NewOutbox(js jetstream.JetStream, qcfg queue.Config, results Presigner, log *slog.Logger) *Outbox {
	qcfg = qcfg.WithDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Outbox{js: js, subject: qcfg.WebhookSubject(), stream: qcfg.WebhookStream, results: results, log: log, now: time.Now}
}

// Notify queues the event for rec when m's webhook asked for it. It does
// not wait for the stream's acknowledgement (a failure is logged), so it
// never holds up the job; it only blocks, briefly and bounded, when
// thousands of stores are outstanding.
func (o *Outbox) Notify(ctx context.Context, event string, m *job.Message, rec status.Record) {
	if m == nil || !m.Options.Webhook.Wants(event) {
		return
	}
	log := o.log.With(slog.String("job_id", rec.ID), slog.String("event", event))
	msg, err := o.Message(ctx, event, m.Options.Webhook.URL, rec)
	if err != nil {
		log.Error("webhook not queued", slog.Any("error", err))
		return
	}
	ack, err := o.js.PublishMsgAsync(msg, jetstream.WithMsgID(msg.Header.Get(hdrID)), jetstream.WithExpectStream(o.stream))
	if err != nil {
		log.Error("webhook not queued", slog.Any("error", err))
		return
	}
	go func() {
		select {
		case <-ack.Ok():
		case err := <-ack.Err():
			log.Error("webhook not stored", slog.Any("error", err))
		case <-time.After(30 * time.Second):
			log.Error("webhook store unconfirmed after 30s")
		}
	}()
}

// Message builds the stored delivery of event for rec to url: the body
// (Payload) and the headers the Dispatcher needs.
func (o *Outbox) Message(ctx context.Context, event, url string, rec status.Record) (*nats.Msg, error) {
	p := Payload{Type: "job." + event, Timestamp: rec.UpdatedAt.UTC(), Data: Job{Record: rec}}
	if rec.State == status.StateSucceeded && o.results != nil {
		files, err := o.results.PresignResults(ctx, rec.ID, rec.Outputs)
		if err != nil {
			return nil, err
		}
		p.Data.Results = files
	}
	body, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("webhook: body: %w", err)
	}
	msg := nats.NewMsg(o.subject)
	msg.Data = body
	msg.Header.Set(hdrID, ID(rec))
	msg.Header.Set(hdrURL, url)
	msg.Header.Set(queue.HeaderTenant, rec.Tenant)
	msg.Header.Set(hdrCreated, o.now().UTC().Format(time.RFC3339Nano))
	return msg, nil
}
