// Package testkit is the one home of the helpers facefleet's tests share:
// slog into t.Log, a context that ends with the test, the module root, the
// storage configuration of a devservers S3 bucket and a job submitted the
// way the producer submits it. It is imported by _test.go files only (it
// imports testing); the servers themselves are in shared/devservers.
package testkit

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/queue"
	"github.com/facefleet/facefleet/shared/status"
	"github.com/facefleet/facefleet/shared/storage"
)

// LogWriter writes each Write to t.Log, without its trailing newline.
func LogWriter(t testing.TB) io.Writer { return logWriter{t} }

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// Logger is a debug-level text slog.Logger writing to t.Log.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(LogWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Context returns a context that ends after d or when the test ends.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// ModuleRoot is the facefleet module root (the directory holding go.mod),
// found from this source file.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testkit: no caller information")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// StorageConfig is the storage configuration of a devservers S3 bucket.
func StorageConfig(s *S3Env) storage.Config {
	return storage.Config{Endpoint: s.Endpoint, AccessKey: s.AccessKey, SecretKey: s.SecretKey,
		Bucket: s.Bucket, Region: s.Region}
}

// Store opens the storage of a devservers S3 bucket.
func Store(t testing.TB, s *S3Env) *storage.Store {
	t.Helper()
	st, err := storage.New(StorageConfig(s))
	if err != nil {
		t.Fatalf("testkit: storage: %v", err)
	}
	return st
}

// Producer is what a test needs to submit a job as the producer does.
type Producer struct {
	Store  *storage.Store
	Status *status.Store
	Queue  *queue.Queue
	// Tenant submits the jobs; "" means "acme".
	Tenant string
}

// Submit does what the producer does: upload img as photo.jpg under the
// tenant's inputs, create the queued status record, publish the message. It
// returns the job ID.
func (p Producer) Submit(ctx context.Context, t testing.TB, img []byte, opts job.Options) string {
	t.Helper()
	tenant := p.Tenant
	if tenant == "" {
		tenant = "acme"
	}
	m, err := job.New(tenant, job.Input{Bucket: p.Store.Bucket()}, opts, job.PriorityNormal, time.Now())
	if err != nil {
		t.Fatalf("testkit: new job: %v", err)
	}
	if m.Input.Key, err = p.Store.PutInput(ctx, m.Tenant, m.ID, "photo.jpg", bytes.NewReader(img), int64(len(img)), ""); err != nil {
		t.Fatalf("testkit: upload: %v", err)
	}
	if _, _, err = p.Status.Create(ctx, status.Record{ID: m.ID, Tenant: m.Tenant, Input: m.Input.Key}); err != nil {
		t.Fatalf("testkit: create record: %v", err)
	}
	if _, err = p.Queue.Publish(ctx, m); err != nil {
		t.Fatalf("testkit: publish: %v", err)
	}
	return m.ID
}

// VerifyNoLeaks runs the package's tests (m.Run) and then fails the test
// binary when goroutines started by the tests are still running
// (go.uber.org/goleak). Call it from TestMain of every package whose tests
// start goroutines. Goroutines that outlive the tests by design — the
// process-wide shared S3 gateway child — are ignored.
func VerifyNoLeaks(m *testing.M, opts ...goleak.Option) {
	goleak.VerifyTestMain(m, append(leakIgnores(), opts...)...)
}

func leakIgnores() []goleak.Option {
	return []goleak.Option{
		// The shared S3 gateway child (devservers.SharedS3): started once per
		// test binary, its waiter, stdout reader and signaller run until the
		// process exits (Pdeathsig ends the child).
		goleak.IgnoreAnyFunction("github.com/facefleet/facefleet/shared/devservers.startS3Child.func1"),
		goleak.IgnoreAnyFunction("github.com/facefleet/facefleet/shared/devservers.startS3Child.func1.1"),
		goleak.IgnoreAnyFunction("github.com/facefleet/facefleet/shared/devservers.startS3Child.func1.2"),
		// Idle keep-alive connections of pooled HTTP clients (minio-go's
		// shared transport to that gateway): reused across tests by design.
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
	}
}
