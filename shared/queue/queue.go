// Package queue provisions and uses the JetStream work queue for face jobs:
// one work-queue stream with a subject per priority, one durable pull consumer
// per priority, publish with de-duplication by job ID, a priority-ordered
// fetcher that never takes more messages than free slots, and a dead-letter
// stream.
//
// Layout (defaults): stream FACEFLEET_JOBS with subjects facefleet.jobs.high,
// facefleet.jobs.normal, facefleet.jobs.low (work-queue retention, file
// storage); consumers workers-high, workers-normal, workers-low (explicit
// ack); dead letters go to stream FACEFLEET_DLQ, subject facefleet.jobs.dlq
// (limits retention); webhook deliveries wait in stream FACEFLEET_WEBHOOKS,
// subject facefleet.jobs.webhooks, consumer webhooks (shared/webhook).
package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/facefleet/facefleet/shared/job"
)

// Header names set on published jobs and dead letters.
const (
	HeaderTenant = "Facefleet-Tenant"
	// HeaderTraceparent carries the W3C traceparent of the job, when any.
	HeaderTraceparent = "traceparent"
	// HeaderDLQReason, HeaderDLQCode, HeaderDLQJobID, HeaderDLQDeliveries,
	// HeaderDLQSubject, HeaderDLQStreamSeq, HeaderDLQMsgID and HeaderDLQTime
	// are added to dead letters (next to the original headers).
	HeaderDLQReason     = "Facefleet-Dlq-Reason"
	HeaderDLQCode       = "Facefleet-Dlq-Code"
	HeaderDLQJobID      = "Facefleet-Dlq-Job-Id"
	HeaderDLQDeliveries = "Facefleet-Dlq-Deliveries"
	HeaderDLQSubject    = "Facefleet-Dlq-Subject"
	HeaderDLQStreamSeq  = "Facefleet-Dlq-Stream-Seq"
	HeaderDLQMsgID      = "Facefleet-Dlq-Msg-Id"
	HeaderDLQTime       = "Facefleet-Dlq-Time"
)

// MaxStoredMessageBytes is the largest message the job stream stores
// (payload and headers). It is far above job.MaxMessageBytes on purpose: an
// oversized job message must reach a worker, which dead-letters it with its
// reason, instead of being dropped by the stream where a plain (core NATS)
// publisher would never learn of it. It leaves room below NATS's default
// max_payload (1 MiB) for the dead-letter headers.
const MaxStoredMessageBytes = 512 << 10

// ErrInvalidConfig wraps every Config validation problem.
var ErrInvalidConfig = errors.New("queue: invalid config")

// Config describes the stream, consumers and dead-letter stream.
type Config struct {
	// Stream is the work-queue stream name. Default "FACEFLEET_JOBS".
	Stream string
	// SubjectPrefix: jobs go to <prefix>.high|normal|low, dead letters to
	// <prefix>.dlq. Default "facefleet.jobs".
	SubjectPrefix string
	// Replicas of both streams and the consumers. Default 1.
	Replicas int
	// DuplicateWindow for Nats-Msg-Id de-duplication. Default 2m.
	DuplicateWindow time.Duration
	// AckWait before an unacknowledged message is redelivered. Default 60s.
	// Workers extend it with InProgress while they work.
	AckWait time.Duration
	// MaxDeliver is the maximum number of deliveries per message. Default 5.
	MaxDeliver int
	// BackOff, when set, replaces AckWait per delivery (len < MaxDeliver).
	// Default none.
	BackOff []time.Duration
	// MaxAckPending caps unacknowledged messages per consumer. Default 1000.
	MaxAckPending int
	// DeadLetterStream is the dead-letter stream name. Default "FACEFLEET_DLQ".
	DeadLetterStream string
	// DeadLetterMaxAge is how long dead letters are kept. Default 14 days.
	DeadLetterMaxAge time.Duration
	// WebhookStream holds webhook deliveries waiting to be sent (an
	// outbox, work-queue retention, subject <prefix>.webhooks, consumer
	// "webhooks"). Default "FACEFLEET_WEBHOOKS".
	WebhookStream string
	// PublishTimeout bounds one Publish including its retries: a publish
	// whose ack does not come (a server lost, a stream leader being
	// elected) is sent again under the same Nats-Msg-Id, so the stream
	// still stores it once. Default 30s.
	PublishTimeout time.Duration
	// WebhookMaxAge bounds how long a webhook delivery is kept; senders give
	// up sooner (their retry window). Default 48h.
	WebhookMaxAge time.Duration
}

// WebhookConsumer is the durable consumer of the webhook stream.
const WebhookConsumer = "webhooks"

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config { return Config{}.WithDefaults() }

// Consumer defaults of Config: the one owner of these values (config's
// documented defaults and the worker's fleet.Config take them from here).
const (
	// DefaultAckWait is how long a delivered job may go without an ack or
	// an in-progress heartbeat before JetStream redelivers it.
	DefaultAckWait = 60 * time.Second
	// DefaultMaxDeliver is how many deliveries a job gets before it is
	// dead-lettered.
	DefaultMaxDeliver = 5
	// DefaultMaxAckPending caps unacknowledged jobs per worker consumer.
	DefaultMaxAckPending = 1000
)

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Stream == "" {
		c.Stream = "FACEFLEET_JOBS"
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = "facefleet.jobs"
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = 2 * time.Minute
	}
	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = DefaultMaxDeliver
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	if c.DeadLetterStream == "" {
		c.DeadLetterStream = "FACEFLEET_DLQ"
	}
	if c.DeadLetterMaxAge == 0 {
		c.DeadLetterMaxAge = 14 * 24 * time.Hour
	}
	if c.WebhookStream == "" {
		c.WebhookStream = "FACEFLEET_WEBHOOKS"
	}
	if c.WebhookMaxAge == 0 {
		c.WebhookMaxAge = 48 * time.Hour
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = 30 * time.Second
	}
	return c
}

// Validate reports every problem with c (after WithDefaults) at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, a...)...))
	}
	if c.Stream == "" || c.DeadLetterStream == "" || c.WebhookStream == "" || c.Stream == c.DeadLetterStream ||
		c.WebhookStream == c.Stream || c.WebhookStream == c.DeadLetterStream {
		bad("Stream, DeadLetterStream and WebhookStream must be set and differ")
	}
	if c.WebhookMaxAge <= 0 {
		bad("WebhookMaxAge must be > 0")
	}
	if c.PublishTimeout <= 0 {
		bad("PublishTimeout must be > 0")
	}
	if c.SubjectPrefix == "" {
		bad("SubjectPrefix is required")
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		bad("Replicas must be 1..5, got %d", c.Replicas)
	}
	if c.DuplicateWindow <= 0 {
		bad("DuplicateWindow must be > 0")
	}
	if c.AckWait < time.Second {
		bad("AckWait must be >= 1s, got %s", c.AckWait)
	}
	if c.MaxDeliver < 1 {
		bad("MaxDeliver must be >= 1, got %d", c.MaxDeliver)
	}
	if len(c.BackOff) > 0 && len(c.BackOff) >= c.MaxDeliver {
		bad("BackOff must have fewer entries (%d) than MaxDeliver (%d)", len(c.BackOff), c.MaxDeliver)
	}
	for i, d := range c.BackOff {
		if d <= 0 {
			bad("BackOff[%d] must be > 0", i)
		}
	}
	if c.MaxAckPending < 1 {
		bad("MaxAckPending must be >= 1, got %d", c.MaxAckPending)
	}
	if c.DeadLetterMaxAge < 0 {
		bad("DeadLetterMaxAge must be >= 0")
	}
	return errors.Join(errs...)
}

// Subject returns the subject for priority p: <prefix>.<p>.
func (c Config) Subject(p job.Priority) string { return c.SubjectPrefix + "." + string(p) }

// DeadLetterSubject returns <prefix>.dlq.
func (c Config) DeadLetterSubject() string { return c.SubjectPrefix + ".dlq" }

// WebhookSubject returns <prefix>.webhooks.
func (c Config) WebhookSubject() string { return c.SubjectPrefix + ".webhooks" }

// ConsumerName returns the durable consumer name for p: "workers-<p>".
func ConsumerName(p job.Priority) string { return "workers-" + string(p) }

// Provision creates or updates the job stream, the per-priority consumers and
// the dead-letter stream. It is idempotent.
func Provision(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	subjects := make([]string, 0, 3)
	for _, p := range job.Priorities() {
		subjects = append(subjects, cfg.Subject(p))
	}
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "facefleet jobs (work queue)",
		Subjects:    subjects,
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		Duplicates:  cfg.DuplicateWindow,
		MaxMsgSize:  MaxStoredMessageBytes,
		Discard:     jetstream.DiscardNew,
	})
	if err != nil {
		return fmt.Errorf("queue: provision stream %s: %w", cfg.Stream, err)
	}
	for _, p := range job.Priorities() {
		_, err := js.CreateOrUpdateConsumer(ctx, cfg.Stream, jetstream.ConsumerConfig{
			Durable:       ConsumerName(p),
			Description:   "facefleet workers, " + string(p) + " priority",
			FilterSubject: cfg.Subject(p),
			AckPolicy:     jetstream.AckExplicitPolicy,
			DeliverPolicy: jetstream.DeliverAllPolicy,
			AckWait:       cfg.AckWait,
			MaxDeliver:    cfg.MaxDeliver,
			BackOff:       cfg.BackOff,
			MaxAckPending: cfg.MaxAckPending,
			Replicas:      cfg.Replicas,
		})
		if err != nil {
			return fmt.Errorf("queue: provision consumer %s: %w", ConsumerName(p), err)
		}
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.DeadLetterStream,
		Description: "facefleet dead letters",
		Subjects:    []string{cfg.DeadLetterSubject()},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		MaxAge:      cfg.DeadLetterMaxAge,
		Duplicates:  cfg.DuplicateWindow,
	})
	if err != nil {
		return fmt.Errorf("queue: provision stream %s: %w", cfg.DeadLetterStream, err)
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.WebhookStream,
		Description: "facefleet webhook deliveries (outbox)",
		Subjects:    []string{cfg.WebhookSubject()},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		MaxAge:      cfg.WebhookMaxAge,
		Duplicates:  cfg.DuplicateWindow,
	})
	if err != nil {
		return fmt.Errorf("queue: provision stream %s: %w", cfg.WebhookStream, err)
	}
	_, err = js.CreateOrUpdateConsumer(ctx, cfg.WebhookStream, jetstream.ConsumerConfig{
		Durable:       WebhookConsumer,
		Description:   "facefleet webhook senders",
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       time.Minute, // a delivery attempt takes at most the sender's timeout
		MaxDeliver:    -1,          // the sender gives up after its retry window
		MaxAckPending: cfg.MaxAckPending,
		Replicas:      cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("queue: provision consumer %s: %w", WebhookConsumer, err)
	}
	return nil
}

// Queue publishes to and inspects a provisioned job stream.
type Queue struct {
	js  jetstream.JetStream
	cfg Config
}

// New returns a Queue for cfg (defaults applied). It does not provision.
func New(js jetstream.JetStream, cfg Config) (*Queue, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Queue{js: js, cfg: cfg}, nil
}

// Config returns the configuration in use (defaults applied).
func (q *Queue) Config() Config { return q.cfg }

// Publish validates and publishes m to its priority subject with
// Nats-Msg-Id = m.ID. duplicate is true when JetStream already had a message
// with that ID inside the duplicate window (nothing new was stored).
func (q *Queue) Publish(ctx context.Context, m *job.Message) (duplicate bool, err error) {
	return q.publish(ctx, m, m.ID)
}

func (q *Queue) publish(ctx context.Context, m *job.Message, msgID string) (duplicate bool, err error) {
	data, err := m.Encode()
	if err != nil {
		return false, err
	}
	msg := nats.NewMsg(q.cfg.Subject(m.Priority))
	msg.Data = data
	msg.Header.Set(HeaderTenant, m.Tenant)
	if m.Trace != nil && m.Trace.Traceparent != "" {
		msg.Header.Set(HeaderTraceparent, m.Trace.Traceparent)
	}
	ack, retried, err := q.publishRetrying(ctx, msg, true, jetstream.WithMsgID(msgID), jetstream.WithExpectStream(q.cfg.Stream))
	if err != nil {
		return false, fmt.Errorf("queue: publish %s: %w", m.ID, err)
	}
	// After a lost ack our own earlier attempt may be what the stream
	// de-duplicated: that is not a duplicate submit.
	return ack.Duplicate && !retried, nil
}

// IsLastDelivery reports whether msg is on its final allowed delivery
// (NumDelivered >= MaxDeliver): a failure now should dead-letter and Term.
func (q *Queue) IsLastDelivery(msg jetstream.Msg) bool {
	md, err := msg.Metadata()
	if err != nil {
		return false
	}
	return md.NumDelivered >= uint64(q.cfg.MaxDeliver)
}

// LagInfo is the backlog per priority.
type LagInfo struct {
	// Pending is the number of messages not yet delivered, per priority.
	Pending map[job.Priority]uint64
	// InFlight is the number delivered but not yet acknowledged, per priority.
	InFlight map[job.Priority]uint64
}

// Total returns the sum of Pending and InFlight over all priorities.
func (l LagInfo) Total() uint64 {
	var n uint64
	for _, v := range l.Pending {
		n += v
	}
	for _, v := range l.InFlight {
		n += v
	}
	return n
}

// Lag reads the consumers' pending and in-flight counts. The server updates
// them asynchronously, so a message published a moment ago may not show yet.
func (q *Queue) Lag(ctx context.Context) (LagInfo, error) {
	l := LagInfo{Pending: map[job.Priority]uint64{}, InFlight: map[job.Priority]uint64{}}
	ctx, cancel := context.WithTimeout(ctx, 3*requestTimeout)
	defer cancel()
	for _, p := range job.Priorities() {
		c, err := q.js.Consumer(ctx, q.cfg.Stream, ConsumerName(p))
		if err != nil {
			return LagInfo{}, fmt.Errorf("queue: lag %s: %w", ConsumerName(p), err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			return LagInfo{}, fmt.Errorf("queue: lag %s: %w", ConsumerName(p), err)
		}
		l.Pending[p] = info.NumPending
		l.InFlight[p] = uint64(info.NumAckPending)
	}
	return l, nil
}
