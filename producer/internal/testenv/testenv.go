// Package testenv starts the real servers (shared/devservers) for producer
// tests and returns a producer configuration pointing at them.
package testenv

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/facefleet/facefleet/config"
	"github.com/facefleet/facefleet/shared/testkit"
)

// Env is one test's servers and a matching producer configuration.
type Env struct {
	Config config.Producer
	NATS   *testkit.NATSEnv
	Redis  *testkit.RedisEnv
	S3     *testkit.S3Env
}

// New starts a NATS server, a redis-server and a bucket on the shared S3
// gateway for t, and returns a validated config.Producer for them.
func New(t testing.TB) *Env {
	t.Helper()
	n := testkit.NATS(t)
	r := testkit.Redis(t)
	s := testkit.S3(t)
	cfg, err := config.LoadProducer(nil, nil)
	if err != nil {
		t.Fatalf("testenv: default config: %v", err)
	}
	cfg.NATSURL = n.URL
	cfg.RedisAddr = r.Addr
	cfg.S3Endpoint = s.Endpoint
	cfg.S3AccessKey = s.AccessKey
	cfg.S3SecretKey = s.SecretKey
	cfg.S3Bucket = s.Bucket
	cfg.S3Region = s.Region
	if err := cfg.Validate(); err != nil {
		t.Fatalf("testenv: config: %v", err)
	}
	return &Env{Config: cfg, NATS: n, Redis: r, S3: s}
}

// Context returns a context that ends with the test or after d (testkit.Context).
func Context(t testing.TB, d time.Duration) context.Context { return testkit.Context(t, d) }

// Logger returns a slog logger writing to t.Log (testkit.Logger).
func Logger(t testing.TB) *slog.Logger { return testkit.Logger(t) }

// FaceJPEG returns the bytes of a real face photo (producer/client/testdata/face.jpg).
func FaceJPEG(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(FacePath(t))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return b
}

// FacePath returns the path of producer/client/testdata/face.jpg.
func FacePath(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testenv: no caller")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "client", "testdata", "face.jpg")
}
