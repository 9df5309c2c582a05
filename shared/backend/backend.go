// Package backend is the one way facefleet's binaries open and provision
// their servers: NATS (JetStream, the job stream and its consumers), Redis
// (the status store) and S3 (the bucket). `worker run`, `producer
// provision` and the local stack call it instead of repeating the sequence.
package backend

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/facefleet/facefleet/config"
	"github.com/facefleet/facefleet/shared/queue"
	"github.com/facefleet/facefleet/shared/status"
	"github.com/facefleet/facefleet/shared/storage"
)

// Config selects the servers: the three sections every binary's
// configuration embeds (config.Worker and config.Producer have them).
type Config struct {
	config.NATS
	config.Redis
	config.S3
}

// Options says what Open does beyond connecting.
type Options struct {
	// Name is the NATS client name (config.NATS.ConnectOptions).
	Name string
	// NATSOptions are added to the connect options (handlers, …).
	NATSOptions []nats.Option
	// NoRedis skips Redis: Conns.Redis and Conns.Status stay nil.
	NoRedis bool
	// ProvisionIfMissing provisions the job stream (and its consumers)
	// only when it does not exist yet, so that a client leaves the
	// consumer settings to the workers that own them.
	ProvisionIfMissing bool
	// NoBucket skips creating the bucket when it is missing.
	NoBucket bool
	// PresignExpiry is the store's presigned URL lifetime (the producer's
	// setting); 0 leaves storage's default.
	PresignExpiry time.Duration
}

// Conns are the open connections and the stores on them.
type Conns struct {
	NC *nats.Conn
	JS jetstream.JetStream
	// QueueConfig is the configuration the stream and consumers were
	// provisioned with (config.NATS.QueueConfig).
	QueueConfig queue.Config
	Queue       *queue.Queue
	Redis       redis.UniversalClient
	Status      *status.Store
	Store       *storage.Store
}

// Open connects to NATS and JetStream, provisions the job stream, its
// consumers and the dead-letter stream (idempotent; see
// Options.ProvisionIfMissing), connects to Redis and pings it, and opens the
// S3 store, creating the bucket when missing (unless Options.NoBucket). On
// an error whatever was opened is closed again.
func Open(ctx context.Context, cfg Config, o Options) (_ *Conns, err error) {
	c := &Conns{}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	c.NC, err = nats.Connect(cfg.NATSURL, append(cfg.ConnectOptions(o.Name), o.NATSOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("connect nats %s: %w", cfg.NATSURL, err)
	}
	if c.JS, err = jetstream.New(c.NC); err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	c.QueueConfig = cfg.QueueConfig()
	provision := true
	if o.ProvisionIfMissing {
		_, err := c.JS.Stream(ctx, cfg.NATSStream)
		switch {
		case err == nil:
			provision = false
		case !errors.Is(err, jetstream.ErrStreamNotFound):
			return nil, fmt.Errorf("stream %s: %w", cfg.NATSStream, err)
		}
	}
	if provision {
		if err := queue.Provision(ctx, c.JS, c.QueueConfig); err != nil {
			return nil, err
		}
	}
	if c.Queue, err = queue.New(c.JS, c.QueueConfig); err != nil {
		return nil, err
	}
	if !o.NoRedis {
		c.Redis = cfg.RedisClient()
		if err := c.Redis.Ping(ctx).Err(); err != nil {
			return nil, fmt.Errorf("redis %s: %w", cfg.RedisEndpoint(), err)
		}
		c.Status = status.New(c.Redis, cfg.StatusConfig())
	}
	scfg := cfg.StorageConfig()
	scfg.PresignExpiry = o.PresignExpiry
	if c.Store, err = storage.New(scfg); err != nil {
		return nil, err
	}
	if !o.NoBucket {
		if err := c.Store.EnsureBucket(ctx); err != nil {
			return nil, fmt.Errorf("s3 %s: %w", cfg.S3Endpoint, err)
		}
	}
	return c, nil
}

// Provision creates or updates what the fleet needs on the servers — the
// job stream, its consumers, the dead-letter stream and the bucket — and
// closes its connections again. It returns the queue configuration used.
func Provision(ctx context.Context, cfg Config, name string) (queue.Config, error) {
	c, err := Open(ctx, cfg, Options{Name: name, NoRedis: true})
	if err != nil {
		return queue.Config{}, err
	}
	return c.QueueConfig, c.Close()
}

// Close closes Redis, then NATS. It is safe on a partly opened Conns.
func (c *Conns) Close() error {
	var errs []error
	if c.Redis != nil {
		errs = append(errs, c.Redis.Close())
	}
	if c.NC != nil {
		c.NC.Close()
	}
	return errors.Join(errs...)
}
