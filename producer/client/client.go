// Package client is the public Go client of facefleet: it submits face
// photos as jobs and follows them. It talks to the three servers directly —
// S3 for inputs and results (shared/storage), Redis for job status
// (shared/status), NATS JetStream for the queue (shared/queue) — and is what
// the producer CLI and HTTP API use.
//
//	c, err := client.New(ctx, cfg) // cfg: config.Producer
//	rec, err := c.Submit(ctx, client.SubmitRequest{Image: f, Filename: "me.jpg"})
//	rec, err = c.Wait(ctx, rec.ID)
//	files, err := c.ResultURLs(ctx, rec)
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/facefleet/facefleet/config"
	"github.com/facefleet/facefleet/shared/backend"
	"github.com/facefleet/facefleet/shared/errcode"
	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/queue"
	"github.com/facefleet/facefleet/shared/status"
	"github.com/facefleet/facefleet/shared/storage"
	"github.com/facefleet/facefleet/shared/webhook"
)

// Client submits and follows jobs. It is safe for concurrent use.
type Client struct {
	cfg    config.Producer
	log    *slog.Logger
	nc     *nats.Conn
	js     jetstream.JetStream
	queue  *queue.Queue
	rdb    redis.UniversalClient
	status *status.Store
	store  *storage.Store
	outbox *webhook.Outbox
	now    func() time.Time
}

// Option changes how New builds a Client.
type Option func(*options)

type options struct {
	log          *slog.Logger
	now          func() time.Time
	ensureBucket bool
	name         string
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithClock sets the clock used for submitted_at (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithEnsureBucket makes New create the bucket when missing (default true).
func WithEnsureBucket(ensure bool) Option { return func(o *options) { o.ensureBucket = ensure } }

// WithName sets the NATS connection name (default "facefleet-producer").
func WithName(name string) Option { return func(o *options) { o.name = name } }

// New connects to NATS, Redis and S3 as configured by cfg, provisions the job
// stream when it does not exist yet (the workers own its consumer settings
// afterwards) and ensures the bucket. cfg is validated first.
func New(ctx context.Context, cfg config.Producer, opts ...Option) (*Client, error) {
	o := options{log: slog.New(slog.DiscardHandler), now: time.Now, ensureBucket: true, name: "facefleet-producer"}
	for _, opt := range opts {
		opt(&o)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, log: o.log, now: o.now}
	ok := false
	defer func() {
		if !ok {
			c.Close()
		}
	}()

	conns, err := backend.Open(ctx, backend.Config{NATS: cfg.NATS, Redis: cfg.Redis, S3: cfg.S3}, backend.Options{
		Name: o.name, ProvisionIfMissing: true, NoBucket: !o.ensureBucket, PresignExpiry: cfg.PresignExpiry,
	})
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	c.store, c.rdb, c.status, c.nc, c.js, c.queue = conns.Store, conns.Redis, conns.Status, conns.NC, conns.JS, conns.Queue
	qcfg := conns.QueueConfig
	c.outbox = webhook.NewOutbox(c.js, qcfg, c.store, c.log)
	ok = true
	return c, nil
}

// Close closes the connections. It is safe to call more than once.
func (c *Client) Close() {
	if c.nc != nil {
		c.nc.Close()
	}
	if c.rdb != nil {
		_ = c.rdb.Close()
	}
}

// Config returns the configuration the client was built with.
func (c *Client) Config() config.Producer { return c.cfg }

// Status exposes the status store (for tools and tests driving states).
func (c *Client) Status() *status.Store { return c.status }

// Storage exposes the object store.
func (c *Client) Storage() *storage.Store { return c.store }

// SubmitRequest describes one job. Give either Image (with an optional
// Filename) or InputKey, not both.
type SubmitRequest struct {
	// Tenant recorded on the job; "" means the configured tenant.
	Tenant string
	// Image is read up to the configured MaxUploadBytes and uploaded to
	// inputs/<tenant>/<job-id>/<Filename>. Its type is sniffed (JPEG, PNG, WebP).
	Image io.Reader
	// Filename names the upload (sanitised); "" means "image".
	Filename string
	// InputKey references an object already in the bucket; it must lie under
	// inputs/<tenant>/.
	InputKey string
	// Options select the outputs; zero fields take the defaults.
	Options job.Options
	// Priority is high, normal or low; "" means normal.
	Priority job.Priority
}

// TenantInputPrefix is where a tenant's own pre-uploaded inputs live; a
// SubmitRequest.InputKey must start with it.
func TenantInputPrefix(tenant string) string { return job.InputPrefix(tenant) }

// Submit uploads the image (or checks the referenced key), records the job as
// queued in Redis and publishes it with Nats-Msg-Id = job ID. It returns the
// queued record.
func (c *Client) Submit(ctx context.Context, req SubmitRequest) (status.Record, error) {
	tenant := req.Tenant
	if tenant == "" {
		tenant = c.cfg.Tenant
	}
	if !config.ValidTenant(tenant) {
		return status.Record{}, newError(errcode.BadRequest, ErrInvalidRequest, fmt.Sprintf("client: bad tenant %q", tenant))
	}
	if (req.Image == nil) == (req.InputKey == "") {
		return status.Record{}, newError(errcode.BadRequest, ErrInvalidRequest, "client: give exactly one of an image or an input key")
	}
	prio := req.Priority
	if prio == "" {
		prio = job.PriorityNormal
	}
	if !prio.Valid() {
		return status.Record{}, newError(errcode.BadRequest, ErrInvalidRequest, fmt.Sprintf("client: priority must be high, normal or low, got %q", prio))
	}
	opts := req.Options.WithDefaults()
	if err := opts.Validate(); err != nil {
		return status.Record{}, newError(errcode.InvalidOptions, ErrInvalidOptions, "client: "+err.Error(), err)
	}

	msg, err := job.New(tenant, job.Input{Bucket: c.store.Bucket()}, opts, prio, c.now())
	if err != nil {
		return status.Record{}, err
	}
	log := c.log.With(slog.String("job_id", msg.ID), slog.String("tenant", tenant))

	if req.Image != nil {
		key, err := c.upload(ctx, msg.Tenant, msg.ID, req.Filename, req.Image)
		if err != nil {
			return status.Record{}, err
		}
		msg.Input.Key = key
	} else {
		if err := c.checkInputKey(ctx, tenant, req.InputKey); err != nil {
			return status.Record{}, err
		}
		msg.Input.Key = req.InputKey
	}
	if err := msg.Validate(); err != nil {
		return status.Record{}, newError(errcode.BadRequest, ErrInvalidRequest, "client: "+err.Error(), err)
	}

	optsJSON, err := json.Marshal(opts)
	if err != nil {
		return status.Record{}, fmt.Errorf("client: options: %w", err)
	}
	// The message first, then the record: a producer that dies (or loses
	// Redis) in between leaves a job that runs — a worker creates a missing
	// record from the message, as for any raw publish — never a queued
	// record that no message will move. A publish that fails leaves
	// nothing but the uploaded input.
	if _, err := c.queue.Publish(ctx, msg); err != nil {
		return status.Record{}, fmt.Errorf("client: publish %s: %w", msg.ID, err)
	}
	rec, _, err := c.status.Create(ctx, status.Record{
		ID: msg.ID, Tenant: tenant, Input: msg.Input.Key, Options: optsJSON, CreatedAt: msg.SubmittedAt,
	})
	if err != nil {
		// The job is in the stream and will run (its worker writes the
		// record): it is accepted. An error here would make callers submit
		// again and again while Redis is away, each time a new job (the
		// chaos run saw 1385 such extra jobs in 10 minutes of failovers).
		log.Warn("job queued, its record not written yet (the worker writes it)", slog.Any("err", err))
		now := c.now()
		rec = status.Record{ID: msg.ID, Tenant: tenant, State: status.StateQueued, Input: msg.Input.Key,
			Options: optsJSON, CreatedAt: msg.SubmittedAt, UpdatedAt: now}
	}
	log.Info("job submitted", slog.String("input", msg.Input.Key), slog.String("priority", string(prio)))
	return rec, nil
}

// upload sniffs, bounds and stores an image; it returns the key.
func (c *Client) upload(ctx context.Context, tenant, id, filename string, r io.Reader) (string, error) {
	limit := c.cfg.MaxUploadBytes
	br := bufio.NewReaderSize(io.LimitReader(r, limit+1), 64<<10)
	head, err := br.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return "", newError(errcode.InvalidInput, ErrInvalidRequest, "client: read image: "+err.Error(), err)
	}
	if len(head) == 0 {
		return "", newError(errcode.ImageEmpty, ErrUnsupportedImage, "client: the image is empty")
	}
	ct := SniffImage(head)
	if ct == "" {
		return "", newError(errcode.ImageUnsupportedFormat, ErrUnsupportedImage, "client: the image is not JPEG, PNG or WebP")
	}
	// Read it whole (bounded): S3 needs the length for a single PUT, and a
	// too-large image must be refused before anything is stored.
	data, err := io.ReadAll(br)
	if err != nil {
		return "", newError(errcode.InvalidInput, ErrInvalidRequest, "client: read image: "+err.Error(), err)
	}
	if int64(len(data)) > limit {
		return "", newError(errcode.UploadTooLarge, ErrTooLarge, fmt.Sprintf("client: the image is larger than %d bytes", limit))
	}
	key, err := c.store.PutInput(ctx, tenant, id, cleanName(filename, ct), bytes.NewReader(data), int64(len(data)), ct)
	if err != nil {
		return "", fmt.Errorf("client: upload: %w", err)
	}
	return key, nil
}

// checkInputKey accepts an existing object under the tenant's input prefix
// that is no larger than the upload limit.
func (c *Client) checkInputKey(ctx context.Context, tenant, key string) error {
	if err := job.ValidateKey(key); err != nil || path.Clean(key) != key || !strings.HasPrefix(key, TenantInputPrefix(tenant)) {
		return newError(errcode.InvalidInput, ErrInvalidRequest, fmt.Sprintf("client: input key must be a clean key under %s", TenantInputPrefix(tenant)))
	}
	info, err := c.store.Stat(ctx, key)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return newError(errcode.InputNotFound, ErrInputNotFound, "client: input "+key+" does not exist", err)
	case err != nil:
		return fmt.Errorf("client: %w", err)
	}
	if info.Size > c.cfg.MaxUploadBytes {
		return newError(errcode.UploadTooLarge, ErrTooLarge, fmt.Sprintf("client: input %s is %d bytes, limit %d", key, info.Size, c.cfg.MaxUploadBytes))
	}
	if info.Size == 0 {
		return newError(errcode.ImageEmpty, ErrUnsupportedImage, "client: input "+key+" is empty")
	}
	return nil
}

// Get returns the job's record (ErrNotFound when there is none).
func (c *Client) Get(ctx context.Context, id string) (status.Record, error) {
	rec, err := c.status.Get(ctx, id)
	return rec, mapStatusErr(err)
}

// Watch yields the job's current record, then every change, and closes the
// channel after a terminal record or when ctx ends (ErrNotFound when there
// is no such job).
func (c *Client) Watch(ctx context.Context, id string) (<-chan status.Record, error) {
	ch, err := c.status.Watch(ctx, id)
	return ch, mapStatusErr(err)
}

// Wait blocks until the job reaches a terminal state and returns that record.
// It returns ctx's error when ctx ends first. When the subscription breaks
// (a Redis reconnect), it watches again; when Redis cannot be reached it
// returns that error.
func (c *Client) Wait(ctx context.Context, id string) (status.Record, error) {
	var last status.Record
	for {
		ch, err := c.Watch(ctx, id)
		if err != nil {
			if cerr := ctxDone(ctx); cerr != nil {
				return last, cerr
			}
			return last, err
		}
		for rec := range ch {
			last = rec
			if rec.State.Terminal() {
				return rec, nil
			}
		}
		if err := ctxDone(ctx); err != nil {
			return last, err
		}
		c.log.Debug("job watch ended early; watching again", slog.String("job_id", id))
		select { // do not spin when the subscription keeps breaking
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ctxDone returns ctx's error, also when its deadline has passed but its
// timer has not fired yet (a network read deadline taken from ctx can expire
// a moment before ctx itself).
func ctxDone(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// Cancel cancels a queued job at once, or asks the worker running it to
// stop (the record gets cancel_requested; the worker then marks it
// canceled). A finished job is ErrFinished; the record is returned as it is.
func (c *Client) Cancel(ctx context.Context, id string) (status.Record, error) {
	rec, err := c.status.RequestCancel(ctx, id)
	if err == nil {
		c.log.Info("job cancel requested", slog.String("job_id", id), slog.String("state", string(rec.State)))
	}
	if err == nil && rec.State == status.StateCanceled {
		// Canceled before any worker saw it: no worker will announce it.
		var opts job.Options
		if json.Unmarshal(rec.Options, &opts) == nil {
			c.outbox.Notify(ctx, job.EventCanceled, &job.Message{ID: id, Options: opts}, rec)
		}
	}
	return rec, mapStatusErr(err)
}

// Job is the JSON view of a job used by the CLI and the HTTP API: the
// status record's fields plus presigned results (when succeeded).
type Job struct {
	status.Record
	Results []ResultFile `json:"results,omitempty"`
}

// ResultFile is one output of a succeeded job (name, key, presigned URL).
type ResultFile = storage.ResultFile

// ResultURLs presigns every output of rec: its Outputs when the worker listed
// them, else the objects under results/<id>/. Only succeeded jobs have
// results; for other states it returns nil.
func (c *Client) ResultURLs(ctx context.Context, rec status.Record) ([]ResultFile, error) {
	if rec.State != status.StateSucceeded {
		return nil, nil
	}
	return c.store.PresignResults(ctx, rec.ID, rec.Outputs)
}

// Ready checks that NATS, Redis and S3 answer; it returns one error per
// failing dependency, keyed by name, or nil.
func (c *Client) Ready(ctx context.Context) map[string]error {
	res := map[string]error{}
	if c.nc.Status() != nats.CONNECTED {
		res["nats"] = fmt.Errorf("nats: %s", c.nc.Status())
	} else if _, err := c.js.Stream(ctx, c.cfg.NATSStream); err != nil {
		res["nats"] = err
	}
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		res["redis"] = err
	}
	if _, err := c.store.Client().BucketExists(ctx, c.store.Bucket()); err != nil {
		res["s3"] = err
	}
	if len(res) == 0 {
		return nil
	}
	return res
}
