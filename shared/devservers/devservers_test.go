package devservers_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/devservers"
	"github.com/facefleet/facefleet/shared/testkit"
)

func TestNATSJetStream(t *testing.T) {
	t.Parallel()
	env := testkit.NATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := env.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Storage: jetstream.FileStorage})
	require.NoError(t, err)
	ack, err := env.JS.Publish(ctx, "t.x", []byte("hello"))
	require.NoError(t, err)
	require.Equal(t, uint64(1), ack.Sequence)
}

func TestNATSFixedPortAndShutdown(t *testing.T) {
	t.Parallel()
	port, err := devservers.FreePort()
	require.NoError(t, err)
	srv, err := devservers.StartNATS(devservers.NATSOptions{Port: port, StoreDir: t.TempDir()})
	require.NoError(t, err)
	require.Contains(t, srv.URL, ":"+itoa(port))
	srv.Shutdown()
	srv.Shutdown() // idempotent
	_, err = devservers.StartNATS(devservers.NATSOptions{})
	require.Error(t, err, "StoreDir is required")
}

func TestRedisEphemeral(t *testing.T) {
	t.Parallel()
	env := testkit.Redis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, env.Client.Set(ctx, "k", "v", 0).Err())
	v, err := env.Client.Get(ctx, "k").Result()
	require.NoError(t, err)
	require.Equal(t, "v", v)
	cfg, err := env.Client.ConfigGet(ctx, "appendonly").Result()
	require.NoError(t, err)
	require.Equal(t, "no", cfg["appendonly"])
}

func TestRedisDurableSurvivesRestart(t *testing.T) {
	t.Parallel()
	env := testkit.Redis(t) // only to skip cleanly when redis-server is missing
	_ = env
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	port, err := devservers.FreePort()
	require.NoError(t, err)
	srv, err := devservers.StartRedis(ctx, dir, port)
	require.NoError(t, err)
	c := redisClient(srv.Addr)
	require.NoError(t, c.Set(ctx, "durable", "yes", 0).Err())
	// Force the AOF to disk, then stop and start again on the same dir.
	require.NoError(t, c.Do(ctx, "BGREWRITEAOF").Err())
	require.NoError(t, c.Close())
	srv.Stop()
	select {
	case <-srv.Done():
	case <-ctx.Done():
		t.Fatal("redis did not stop")
	}
	srv2, err := devservers.StartRedis(ctx, dir, 0)
	require.NoError(t, err)
	defer srv2.Stop()
	c2 := redisClient(srv2.Addr)
	defer c2.Close()
	v, err := c2.Get(ctx, "durable").Result()
	require.NoError(t, err)
	require.Equal(t, "yes", v)
}

func TestS3SharedBucketPerTest(t *testing.T) {
	t.Parallel()
	a := testkit.S3(t)
	b := testkit.S3(t)
	require.NotEqual(t, a.Bucket, b.Bucket)
	require.Equal(t, a.Endpoint, b.Endpoint, "one gateway per process")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	payload := bytes.Repeat([]byte("x"), 1<<20)
	_, err := a.Client.PutObject(ctx, a.Bucket, "dir/obj.bin", bytes.NewReader(payload), int64(len(payload)), minio.PutObjectOptions{})
	require.NoError(t, err)
	obj, err := a.Client.GetObject(ctx, a.Bucket, "dir/obj.bin", minio.GetObjectOptions{})
	require.NoError(t, err)
	got, err := io.ReadAll(obj)
	require.NoError(t, err)
	require.Equal(t, payload, got)
	_, err = b.Client.StatObject(ctx, b.Bucket, "dir/obj.bin", minio.StatObjectOptions{})
	require.Error(t, err, "buckets are isolated")
}

func TestS3InProcessSingleInstance(t *testing.T) {
	// Not parallel: the embedded gateway chdirs the process. Restore it after.
	t.Chdir(t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := devservers.StartS3(ctx, t.TempDir(), "127.0.0.1:0", "a", "bbbbbbbb")
	require.NoError(t, err)
	_, err = devservers.StartS3(ctx, t.TempDir(), "127.0.0.1:0", "a", "bbbbbbbb")
	require.ErrorIs(t, err, devservers.ErrS3Running)
	srv.Stop()
	srv.Stop()
	require.NoError(t, srv.Err())
}

func BenchmarkStartNATS(b *testing.B) {
	for b.Loop() {
		srv, err := devservers.StartNATS(devservers.NATSOptions{StoreDir: b.TempDir()})
		require.NoError(b, err)
		srv.Shutdown()
	}
}

func BenchmarkStartRedis(b *testing.B) {
	testkit.Redis(b) // skip when not installed
	for b.Loop() {
		srv, err := devservers.StartRedis(context.Background(), "", 0)
		require.NoError(b, err)
		srv.Stop()
	}
}
