package backend_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/config"
	"github.com/facefleet/facefleet/shared/backend"
	"github.com/facefleet/facefleet/shared/queue"
	"github.com/facefleet/facefleet/shared/status"
	"github.com/facefleet/facefleet/shared/testkit"
)

func TestMain(m *testing.M) { testkit.VerifyNoLeaks(m) }

// configFor is the default configuration pointed at this test's servers,
// with a bucket that does not exist yet.
func configFor(t *testing.T) backend.Config {
	t.Helper()
	n, r, s := testkit.NATS(t), testkit.Redis(t), testkit.S3(t)
	w, err := config.LoadWorker(nil, func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	cfg := backend.Config{NATS: w.NATS, Redis: w.Redis, S3: w.S3}
	cfg.NATSURL, cfg.RedisAddr = n.URL, r.Addr
	cfg.S3Endpoint, cfg.S3AccessKey, cfg.S3SecretKey, cfg.S3Region = s.Endpoint, s.AccessKey, s.SecretKey, s.Region
	cfg.S3Bucket = testkit.BucketName(t)
	t.Cleanup(func() { _ = s.Client.RemoveBucket(context.Background(), cfg.S3Bucket) })
	return cfg
}

// Open provisions the stream and consumers with config's QueueConfig
// (MaxAckPending included), pings Redis and creates the bucket.
func TestOpenProvisionsEverything(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	cfg := configFor(t)
	cfg.MaxAckPending = 77
	c, err := backend.Open(ctx, cfg, backend.Options{Name: "backend-test"})
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, cfg.QueueConfig(), c.QueueConfig)

	ok, err := c.Store.Client().BucketExists(ctx, cfg.S3Bucket)
	require.NoError(t, err)
	require.True(t, ok, "bucket created")
	require.NoError(t, c.Redis.Ping(ctx).Err())
	_, err = c.Status.Get(ctx, "0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee")
	require.ErrorIs(t, err, status.ErrNotFound)

	s, err := c.JS.Stream(ctx, cfg.NATSStream)
	require.NoError(t, err)
	for _, name := range s.CachedInfo().Config.Subjects {
		require.Contains(t, name, "facefleet.jobs")
	}
	cons, err := s.Consumer(ctx, queue.ConsumerName("normal"))
	require.NoError(t, err)
	require.Equal(t, 77, cons.CachedInfo().Config.MaxAckPending)
	require.Equal(t, cfg.AckWait, cons.CachedInfo().Config.AckWait)
}

// Provision needs no Redis, and a second run changes nothing.
func TestProvisionIdempotentWithoutRedis(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	cfg := configFor(t)
	cfg.RedisAddr = "127.0.0.1:1" // nothing listens: Provision must not dial it
	q1, err := backend.Provision(ctx, cfg, "backend-test")
	require.NoError(t, err)
	q2, err := backend.Provision(ctx, cfg, "backend-test")
	require.NoError(t, err)
	require.Equal(t, q1, q2)
}

// A server that is not there fails Open with its address, and nothing stays open.
func TestOpenFailsCleanly(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	cfg := configFor(t)
	cfg.RedisAddr = "127.0.0.1:1"
	_, err := backend.Open(ctx, cfg, backend.Options{Name: "backend-test"})
	require.ErrorContains(t, err, "redis 127.0.0.1:1")
}

// A client (ProvisionIfMissing) provisions a missing stream but leaves an
// existing one's consumers as the workers set them; NoBucket creates no bucket.
func TestProvisionIfMissingAndNoBucket(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	cfg := configFor(t)
	cfg.MaxAckPending = 33
	c, err := backend.Open(ctx, cfg, backend.Options{Name: "client", ProvisionIfMissing: true, NoBucket: true})
	require.NoError(t, err)
	defer c.Close()
	ok, err := c.Store.Client().BucketExists(ctx, cfg.S3Bucket)
	require.NoError(t, err)
	require.False(t, ok, "NoBucket: no bucket created")
	cons, err := c.JS.Consumer(ctx, cfg.NATSStream, queue.ConsumerName("normal"))
	require.NoError(t, err)
	require.Equal(t, 33, cons.CachedInfo().Config.MaxAckPending, "missing stream provisioned")

	other := cfg
	other.MaxAckPending = 5
	c2, err := backend.Open(ctx, other, backend.Options{Name: "client", ProvisionIfMissing: true, NoBucket: true})
	require.NoError(t, err)
	defer c2.Close()
	cons, err = c2.JS.Consumer(ctx, cfg.NATSStream, queue.ConsumerName("normal"))
	require.NoError(t, err)
	require.Equal(t, 33, cons.CachedInfo().Config.MaxAckPending, "existing consumers left alone")
}
