package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/facefleet/facefleet/shared/queue"
)

// ErrInvalidConfig wraps every DispatcherConfig problem.
var ErrInvalidConfig = errors.New("webhook: invalid config")

// DispatcherConfig configures a Dispatcher.
type DispatcherConfig struct {
	// Secrets are the signing keys by tenant; "*" signs for every tenant
	// without its own (for local use). A delivery for a tenant without a
	// secret is dropped with an error log.
	Secrets map[string]Secret
	// Policy decides which addresses may be called.
	Policy Policy
	// RetryFor bounds how long one event is retried after it was queued.
	// Default 24h.
	RetryFor time.Duration
	// Timeout bounds one delivery attempt (connect to response headers and
	// body). Default 10s.
	Timeout time.Duration
	// Concurrency caps simultaneous deliveries. Default 8.
	Concurrency int
	// Retry gives the delay after failed attempt n (1-based); it should be
	// jittered (the worker injects fleet.Backoff). Required.
	Retry func(attempt int) time.Duration
	// Observe, when set, hears the end of every attempt: one of the Result*
	// values and, for sent attempts, how long after the event was queued.
	Observe func(result string, sinceQueued time.Duration)
	// Logger, when nil, discards.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Attempt results given to DispatcherConfig.Observe.
const (
	// ResultDelivered: the receiver answered 2xx.
	ResultDelivered = "delivered"
	// ResultRetried: the attempt failed; the event is sent again later.
	ResultRetried = "retried"
	// ResultRefused: the target policy refused the address (never retried).
	ResultRefused = "refused"
	// ResultExpired: the retry window passed (given up).
	ResultExpired = "expired"
	// ResultDropped: no secret for the tenant, or a malformed delivery.
	ResultDropped = "dropped"
)

// Results lists every attempt result.
func Results() []string {
	return []string{ResultDelivered, ResultRetried, ResultRefused, ResultExpired, ResultDropped}
}

// Dispatcher sends the deliveries of the webhook stream.
type Dispatcher struct {
	cfg    DispatcherConfig
	cons   jetstream.Consumer
	client *http.Client
	log    *slog.Logger
}

// NewDispatcher returns a Dispatcher on the provisioned webhook consumer
// of qcfg.
func NewDispatcher(ctx context.Context, js jetstream.JetStream, qcfg queue.Config, cfg DispatcherConfig) (*Dispatcher, error) {
	if cfg.RetryFor == 0 {
		cfg.RetryFor = 24 * time.Hour
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 8
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Observe == nil {
		cfg.Observe = func(string, time.Duration) {}
	}
	var errs []error
	if cfg.RetryFor < 0 || cfg.Timeout < 0 || cfg.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("%w: RetryFor, Timeout must be ≥ 0 and Concurrency ≥ 1", ErrInvalidConfig))
	}
	if cfg.Timeout >= time.Minute {
		errs = append(errs, fmt.Errorf("%w: Timeout must be < 1m (the consumer's ack wait)", ErrInvalidConfig))
	}
	if cfg.Retry == nil {
		errs = append(errs, fmt.Errorf("%w: Retry is required", ErrInvalidConfig))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	qcfg = qcfg.WithDefaults()
	cons, err := js.Consumer(ctx, qcfg.WebhookStream, queue.WebhookConsumer)
	if err != nil {
		return nil, fmt.Errorf("webhook: consumer %s: %w", queue.WebhookConsumer, err)
	}
	dialer := &net.Dialer{Timeout: cfg.Timeout, Control: cfg.Policy.control}
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would hide the target from the policy
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
	}
	client := &http.Client{
		Transport: transport,
		Timeout:   cfg.Timeout,
		// A redirect is an answer, not a new target: 3xx counts as failure.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Dispatcher{cfg: cfg, cons: cons, client: client, log: cfg.Logger}, nil
}

// Run sends deliveries until ctx ends, at most Concurrency at a time, then
// waits for the attempts in flight (each bounded by Timeout).
func (d *Dispatcher) Run(ctx context.Context) error {
	sem := make(chan struct{}, d.cfg.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		free := 1
	more:
		for free < d.cfg.Concurrency {
			select {
			case sem <- struct{}{}:
				free++
			default:
				break more
			}
		}
		batch, err := d.cons.Fetch(free, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			for range free {
				<-sem
			}
			if ctx.Err() != nil {
				return nil
			}
			d.log.Warn("webhook fetch failed", slog.Any("error", err))
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			wg.Go(func() {
				defer func() { <-sem }()
				d.deliver(context.WithoutCancel(ctx), msg)
			})
		}
		for range free - got {
			<-sem
		}
	}
}

// deliver makes one attempt and acks, naks with backoff, or terminates.
func (d *Dispatcher) deliver(ctx context.Context, msg jetstream.Msg) {
	h := msg.Headers()
	id, url, tenant := h.Get(hdrID), h.Get(hdrURL), h.Get(queue.HeaderTenant)
	log := d.log.With(slog.String("webhook_id", id), slog.String("url", url), slog.String("tenant", tenant))
	attempt := uint64(1)
	if md, err := msg.Metadata(); err == nil {
		attempt = md.NumDelivered
	}
	log = log.With(slog.Uint64("attempt", attempt))
	created, err := time.Parse(time.RFC3339Nano, h.Get(hdrCreated))
	if err != nil || id == "" || url == "" {
		log.Error("webhook delivery without id, url or time; dropped")
		d.cfg.Observe(ResultDropped, 0)
		_ = msg.TermWithReason("malformed delivery")
		return
	}
	deadline := created.Add(d.cfg.RetryFor)
	if !d.cfg.Now().Before(deadline) {
		log.Error("webhook given up: retry window over", slog.Duration("retry_for", d.cfg.RetryFor))
		d.cfg.Observe(ResultExpired, 0)
		_ = msg.TermWithReason("retry window over")
		return
	}
	key := d.cfg.Secrets[tenant]
	if key == nil {
		key = d.cfg.Secrets["*"]
	}
	if key == nil {
		log.Error("webhook dropped: no webhook secret for the tenant (configure webhook_secrets)")
		d.cfg.Observe(ResultDropped, 0)
		_ = msg.TermWithReason("no secret for tenant")
		return
	}
	code, err := d.post(ctx, url, id, key, msg.Data())
	since := d.cfg.Now().Sub(created)
	switch {
	case err == nil && code >= 200 && code < 300:
		log.Debug("webhook delivered", slog.Int("status", code), slog.Duration("since_queued", since))
		d.cfg.Observe(ResultDelivered, since)
		if err := msg.Ack(); err != nil {
			log.Warn("webhook ack failed (it may be sent again)", slog.Any("error", err))
		}
		return
	case errors.Is(err, ErrForbiddenTarget):
		log.Error("webhook refused by the target policy", slog.Any("error", err))
		d.cfg.Observe(ResultRefused, 0)
		_ = msg.TermWithReason("target not allowed")
		return
	}
	delay := d.cfg.Retry(int(min(attempt, 1<<30)))
	if left := deadline.Sub(d.cfg.Now()); delay > left {
		delay = max(left, time.Millisecond)
	}
	log.Warn("webhook attempt failed; retrying", slog.Int("status", code), slog.Any("error", err), slog.Duration("delay", delay))
	d.cfg.Observe(ResultRetried, since)
	if err := msg.NakWithDelay(delay); err != nil {
		log.Warn("webhook nak failed", slog.Any("error", err))
	}
}

// post makes one signed attempt and returns the response status.
func (d *Dispatcher) post(ctx context.Context, url, id string, key Secret, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrForbiddenTarget, err) // an unusable URL never works
	}
	ts := d.cfg.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "facefleet-webhooks/1")
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(key, id, ts, body))
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}
