package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/queue"
)

// Config configures one Worker. Zero durations take the defaults noted.
type Config struct {
	// Name identifies the worker in status records and logs. Required.
	Name string
	// Device labels the worker's metrics and logs ("cpu", "cuda:0").
	// Default "cpu".
	Device string
	// Slots is how many jobs run at once. Default 1.
	Slots int
	// JobTimeout bounds one job. Default 5m.
	JobTimeout time.Duration
	// DrainTimeout bounds how long Run waits for in-flight jobs after its
	// context is cancelled, before it cancels them and hands their
	// messages back. Default 60s.
	DrainTimeout time.Duration
	// AckWait is the consumer's ack wait; the worker sends InProgress
	// every AckWait/3 while a job runs. Default 60s.
	AckWait time.Duration
	// MaxDeliver is the consumer's delivery limit: a transient failure
	// of the last delivery dead-letters the job. Default 5.
	MaxDeliver int
	// Retry gives the redelivery delay after a transient failure. Default:
	// Backoff from 1s doubling to 1m with ±20% jitter.
	Retry RetryPolicy
	// Bucket is the S3 bucket the worker reads inputs from and writes
	// results to; a job naming another bucket is refused (invalid_job).
	// Default "": not checked.
	Bucket string
	// MaxImageBytes is the largest input read from S3. Default 32 MiB.
	MaxImageBytes int64
	// FetchWait is how long one Fetch waits for messages. Default 1s.
	FetchWait time.Duration
	// FetchErrorDelay is the pause after a failed Fetch. Default 1s.
	FetchErrorDelay time.Duration
	// LagInterval is how often the queue lag gauge is refreshed. Default 5s.
	LagInterval time.Duration
}

func (c *Config) setDefaults() {
	if c.Device == "" {
		c.Device = "cpu"
	}
	if c.Slots == 0 {
		c.Slots = 1
	}
	if c.JobTimeout == 0 {
		c.JobTimeout = 5 * time.Minute
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = time.Minute
	}
	if c.AckWait == 0 {
		c.AckWait = queue.DefaultAckWait
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = queue.DefaultMaxDeliver
	}
	if c.Retry == nil {
		c.Retry = func(attempt int) time.Duration {
			return Backoff(attempt, time.Second, time.Minute, 0.2, rand.Float64)
		}
	}
	if c.MaxImageBytes == 0 {
		c.MaxImageBytes = job.DefaultMaxImageBytes
	}
	if c.FetchWait == 0 {
		c.FetchWait = time.Second
	}
	if c.FetchErrorDelay == 0 {
		c.FetchErrorDelay = time.Second
	}
	if c.LagInterval == 0 {
		c.LagInterval = 5 * time.Second
	}
}

// problems lists what is wrong with c (after setDefaults).
func (c *Config) problems() []error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("Name is required"))
	}
	if c.MaxImageBytes < 1 {
		errs = append(errs, fmt.Errorf("MaxImageBytes %d < 1", c.MaxImageBytes))
	}
	if c.Slots < 1 {
		errs = append(errs, fmt.Errorf("Slots %d < 1", c.Slots))
	}
	for name, d := range map[string]time.Duration{"JobTimeout": c.JobTimeout, "DrainTimeout": c.DrainTimeout,
		"AckWait": c.AckWait, "FetchWait": c.FetchWait, "FetchErrorDelay": c.FetchErrorDelay,
		"LagInterval": c.LagInterval} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s %v < 0", name, d))
		}
	}
	return errs
}

// Deps are the collaborators of a Worker. All but Notifier, Metrics and
// Logger are required.
type Deps struct {
	Fetcher   Fetcher
	Queue     Queue
	Status    StatusStore
	Images    ImageStore
	Processor Processor
	// Notifier, when nil, announces nothing (no webhooks).
	Notifier Notifier
	// Metrics, when nil, are created fresh (and not served).
	Metrics *Metrics
	// Logger, when nil, discards.
	Logger *slog.Logger
}

// Worker runs jobs from the queue on one device's Processor with at most
// Config.Slots jobs at once.
type Worker struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	m    *Metrics
}

// New checks cfg and deps and returns a Worker; Run starts it.
func New(cfg Config, deps Deps) (*Worker, error) {
	cfg.setDefaults()
	errs := cfg.problems()
	for name, missing := range map[string]bool{"Fetcher": deps.Fetcher == nil, "Queue": deps.Queue == nil,
		"Status": deps.Status == nil, "Images": deps.Images == nil, "Processor": deps.Processor == nil} {
		if missing {
			errs = append(errs, fmt.Errorf("Deps.%s is required", name))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Metrics == nil {
		deps.Metrics = NewMetrics()
	}
	if deps.Notifier == nil {
		deps.Notifier = noNotifier{}
	}
	return &Worker{
		cfg:  cfg,
		deps: deps,
		log:  deps.Logger.With(slog.String("worker", cfg.Name), slog.String("device", cfg.Device)),
		m:    deps.Metrics,
	}, nil
}

// Run fetches and processes jobs until ctx is cancelled, then shuts down in
// two phases: it stops fetching and lets in-flight jobs finish for up to
// DrainTimeout; then it cancels the rest, whose messages are Nak'd so that
// JetStream redelivers them. Run returns nil after a clean shutdown.
func (w *Worker) Run(ctx context.Context) error {
	// Jobs run on a context that outlives ctx: cancelling ctx only stops
	// fetching; jobs are cancelled after the drain timeout.
	workCtx, cancelWork := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelWork(ErrShutdown)

	sem := make(chan struct{}, w.cfg.Slots)
	var jobs sync.WaitGroup
	lagDone := make(chan struct{})
	go func() {
		defer close(lagDone)
		w.reportLag(ctx)
	}()

	w.log.Info("worker started", slog.Int("slots", w.cfg.Slots))
	for {
		// Wait for one free slot, then take whatever else is free: never ask
		// for more messages than free slots.
		if !acquire(ctx, sem) {
			break
		}
		free := 1
	more:
		for free < w.cfg.Slots {
			select {
			case sem <- struct{}{}:
				free++
			default:
				break more
			}
		}
		msgs, err := w.deps.Fetcher.Fetch(ctx, free, w.cfg.FetchWait)
		for range free - len(msgs) {
			<-sem
		}
		if err != nil && ctx.Err() == nil && !errors.Is(err, context.Canceled) {
			w.log.Warn("fetch failed", slog.Any("error", err))
			t := time.NewTimer(w.cfg.FetchErrorDelay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		for _, msg := range msgs {
			jobs.Add(1)
			go func() {
				defer func() { <-sem; jobs.Done() }()
				w.handle(workCtx, msg)
			}()
		}
	}
	<-lagDone

	drained := make(chan struct{})
	go func() { jobs.Wait(); close(drained) }()
	w.log.Info("worker draining", slog.Int("inflight", len(sem)), slog.Duration("timeout", w.cfg.DrainTimeout))
	t := time.NewTimer(w.cfg.DrainTimeout)
	defer t.Stop()
	select {
	case <-drained:
	case <-t.C:
		w.log.Warn("drain timeout: cancelling in-flight jobs", slog.Int("inflight", len(sem)))
		cancelWork(ErrShutdown)
		<-drained
	}
	w.log.Info("worker stopped")
	return nil
}

// acquire takes one slot of sem, or returns false (holding nothing) once
// ctx is done.
func acquire(ctx context.Context, sem chan struct{}) bool {
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	if ctx.Err() != nil {
		<-sem
		return false
	}
	return true
}

// reportLag refreshes the queue lag gauge until ctx is done.
func (w *Worker) reportLag(ctx context.Context) {
	t := time.NewTicker(w.cfg.LagInterval)
	defer t.Stop()
	for {
		if lag, err := w.deps.Queue.Lag(ctx); err == nil {
			for p, n := range lag.Pending {
				w.m.QueueLag.WithLabelValues(string(p)).Set(float64(n))
			}
		} else if ctx.Err() == nil {
			w.log.Debug("queue lag", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// numDelivered reads the delivery count of msg (1 when unknown).
func numDelivered(msg jetstream.Msg) uint64 {
	md, err := msg.Metadata()
	if err != nil || md.NumDelivered == 0 {
		return 1
	}
	return md.NumDelivered
}
