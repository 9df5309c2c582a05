// The per-test servers: an embedded NATS, a redis-server and a bucket on the
// shared S3 gateway, each with a connected client, stopped on cleanup.

package testkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/facefleet/facefleet/shared/devservers"
	"github.com/facefleet/facefleet/shared/toolcheck"
)

// NATSEnv is a per-test embedded NATS server with a connected client.
type NATSEnv struct {
	Server *devservers.NATSServer
	URL    string
	Conn   *nats.Conn
	JS     jetstream.JetStream
}

// NATS starts a fresh embedded NATS+JetStream server for this test (random
// port, file store in t.TempDir()) and a connected client; both are closed on
// cleanup. Startup takes a few milliseconds.
func NATS(t testing.TB) *NATSEnv {
	t.Helper()
	srv, err := devservers.StartNATS(devservers.NATSOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatalf("devservers.NATS: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := nats.Connect(srv.URL, nats.Name(t.Name()))
	if err != nil {
		t.Fatalf("devservers.NATS connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("devservers.NATS jetstream: %v", err)
	}
	return &NATSEnv{Server: srv, URL: srv.URL, Conn: nc, JS: js}
}

// RedisEnv is a per-test redis-server with a connected client.
type RedisEnv struct {
	Server *devservers.RedisServer
	Addr   string
	Client *redis.Client
}

// Redis starts an ephemeral redis-server for this test on a free port and
// returns a connected client; both are stopped on cleanup. When redis-server
// is not installed it skips the test (fails it with FACEFLEET_REQUIRE_TOOLS set;
// see toolcheck).
// A fresh server takes about 10–20 ms, and pub/sub channels are not shared
// between tests (they would be on a shared server: channels ignore DB index).
func Redis(t testing.TB) *RedisEnv {
	t.Helper()
	srv, err := devservers.StartRedis(context.Background(), "", 0)
	if err != nil {
		if errors.Is(err, devservers.ErrRedisNotInstalled) {
			toolcheck.Missing(t, "%v", err)
			return nil
		}
		t.Fatalf("devservers.Redis: %v", err)
	}
	t.Cleanup(srv.Stop)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	return &RedisEnv{Server: srv, Addr: srv.Addr, Client: rdb}
}

// SharedS3 returns the process-wide versitygw gateway
// (devservers.SharedS3Server), failing the test when it cannot start. Use a
// bucket per test (see S3).
func SharedS3(t testing.TB) *devservers.S3Server {
	t.Helper()
	srv, err := devservers.SharedS3Server()
	if err != nil {
		t.Fatalf("devservers.SharedS3: %v", err)
	}
	return srv
}

// S3Env is a bucket of its own on the shared gateway, with a client.
type S3Env struct {
	Endpoint  string
	AccessKey string
	SecretKey string
	Region    string
	// Bucket was created for this test and is emptied and removed on cleanup.
	Bucket string
	Client *minio.Client
}

// S3 returns a fresh bucket on the shared gateway and a minio client for it.
func S3(t testing.TB) *S3Env {
	t.Helper()
	srv := SharedS3(t)
	client, err := minio.New(srv.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""),
		Region: srv.Region,
	})
	if err != nil {
		t.Fatalf("devservers.S3 client: %v", err)
	}
	bucket := BucketName(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: srv.Region}); err != nil {
		t.Fatalf("devservers.S3 make bucket %s: %v", bucket, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for obj := range client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
			if obj.Err == nil {
				_ = client.RemoveObject(ctx, bucket, obj.Key, minio.RemoveObjectOptions{})
			}
		}
		_ = client.RemoveBucket(ctx, bucket)
	})
	return &S3Env{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
		Region: srv.Region, Bucket: bucket, Client: client}
}

// BucketName returns a valid, unique S3 bucket name derived from the test name.
func BucketName(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	var sb strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			sb.WriteRune(r)
		default:
			sb.WriteByte('-')
		}
	}
	name := strings.Trim(sb.String(), "-")
	if len(name) > 40 {
		name = name[:40]
	}
	return strings.Trim(fmt.Sprintf("t-%s-%s", name, hex.EncodeToString(b[:])), "-")
}
