package fleet

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/errcode"
	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/queue"
	"github.com/facefleet/facefleet/shared/status"
	"github.com/facefleet/facefleet/shared/testkit"
	"github.com/facefleet/facefleet/worker/internal/pipeline"
)

// Loop tests: real NATS, Redis and S3, with a stub Processor so that each
// test controls timing. The end-to-end tests with the real pipeline are in
// e2e_test.go.

func TestWorkerSucceeds(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{})
	var calls atomic.Int32
	b.start(t, stagedProcessor(&calls, nil))
	id := b.submit(t, []byte("image-bytes"), job.Options{})
	r := b.waitState(t, id, isState(status.StateSucceeded))
	require.Equal(t, []string{"results/" + id + "/result.json"}, r.Outputs)
	got, err := b.store.Get(b.ctx, r.Outputs[0], 1<<20)
	require.NoError(t, err)
	require.Equal(t, "image-bytes", string(got))
	require.Contains(t, r.Timings, StageUpload)
	require.Equal(t, 1, r.Attempts)
	require.Equal(t, "w1", r.Worker)
	b.waitIdle(t)
	require.EqualValues(t, 1, calls.Load())
}

func TestWorkerPermanentErrorNoRetry(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{})
	var calls atomic.Int32
	b.start(t, funcProcessor(func(ctx context.Context, data []byte, o pipeline.Options, p pipeline.Progress) (*pipeline.Output, error) {
		calls.Add(1)
		return nil, &pipeline.OptionError{Problems: []string{"uv_size 3"}}
	}))
	id := b.submit(t, []byte("x"), job.Options{})
	r := b.waitState(t, id, isState(status.StateFailed))
	require.Equal(t, "invalid_options", r.ErrorCode)
	b.waitIdle(t)
	require.EqualValues(t, 1, calls.Load())
	require.Zero(t, b.redelivered(t))
}

func TestWorkerInputTooLarge(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{})
	b.cfg.MaxImageBytes = 4
	var calls atomic.Int32
	b.start(t, stagedProcessor(&calls, nil))
	id := b.submit(t, []byte("12345"), job.Options{})
	r := b.waitState(t, id, isState(status.StateFailed))
	require.Equal(t, "image_too_large", r.ErrorCode)
	require.Zero(t, calls.Load())
}

func TestWorkerTransientUploadRetried(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{})
	b.images.failPuts.Store(1)
	var calls atomic.Int32
	b.start(t, stagedProcessor(&calls, nil))
	id := b.submit(t, []byte("x"), job.Options{})
	r := b.waitState(t, id, isState(status.StateSucceeded))
	require.Equal(t, 2, r.Attempts)
	require.EqualValues(t, 2, calls.Load())
	b.waitIdle(t)
}

func TestWorkerDeadLettersAfterMaxDeliver(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{})
	var calls atomic.Int32
	b.start(t, funcProcessor(func(ctx context.Context, data []byte, o pipeline.Options, p pipeline.Progress) (*pipeline.Output, error) {
		calls.Add(1)
		return nil, errors.New("redis: i/o timeout")
	}))
	id := b.submit(t, []byte("x"), job.Options{})
	r := b.waitState(t, id, isState(status.StateFailed))
	require.Equal(t, errcode.Internal.String(), r.ErrorCode)
	require.Contains(t, r.ErrorMessage, "gave up after 3 deliveries")
	b.waitIdle(t)
	require.EqualValues(t, 3, calls.Load())
	require.EqualValues(t, 1, b.deadLetters(t))
}

func TestWorkerPanicIsRetried(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{})
	var calls, okCalls atomic.Int32
	ok := stagedProcessor(&okCalls, nil)
	b.start(t, funcProcessor(func(ctx context.Context, data []byte, o pipeline.Options, p pipeline.Progress) (*pipeline.Output, error) {
		if calls.Add(1) == 1 {
			var m map[string]int
			m["boom"] = 1 //nolint:staticcheck // SA5000 on purpose: the nil-map write is the panic under test
		}
		return ok(ctx, data, o, p)
	}))
	id := b.submit(t, []byte("x"), job.Options{})
	r := b.waitState(t, id, isState(status.StateSucceeded))
	require.Equal(t, 2, r.Attempts)
	require.EqualValues(t, 2, calls.Load())
}

func TestWorkerRedeliveredSucceededJobIsAckedWithoutRecompute(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{DuplicateWindow: time.Second})
	var calls atomic.Int32
	b.start(t, stagedProcessor(&calls, nil))
	id := b.submit(t, []byte("x"), job.Options{})
	first := b.waitState(t, id, isState(status.StateSucceeded))
	b.waitIdle(t)
	// The same job delivered again, as after a crash between the status
	// write and the ack (the duplicate window has passed).
	m, err := job.New("acme", job.Input{Bucket: b.bucket, Key: first.Input}, job.Options{}, job.PriorityNormal, time.Now())
	require.NoError(t, err)
	m.ID = id
	time.Sleep(1100 * time.Millisecond) // let the 1s duplicate window pass
	b.publish(t, m)
	b.waitIdle(t)
	require.EqualValues(t, 1, calls.Load())
	again, err := b.status.Get(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, first.Revision, again.Revision, "the record must not change")
}

func TestWorkerDuplicatePublishIsOneJob(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{})
	var calls atomic.Int32
	b.start(t, stagedProcessor(&calls, nil))
	id := b.submit(t, []byte("x"), job.Options{})
	r := b.waitState(t, id, isState(status.StateSucceeded))
	m, err := job.New("acme", job.Input{Bucket: b.bucket, Key: r.Input}, job.Options{}, job.PriorityNormal, time.Now())
	require.NoError(t, err)
	m.ID = id
	dup, err := b.q.Publish(b.ctx, m)
	require.NoError(t, err)
	require.True(t, dup)
	b.waitIdle(t)
	require.EqualValues(t, 1, calls.Load())
}

func TestWorkerCancel(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{})
	var calls atomic.Int32
	inDetect := make(chan struct{})
	release := make(chan struct{})
	b.start(t, stagedProcessor(&calls, func(stage string) {
		if stage == "detect" {
			close(inDetect)
			recv(t, release)
		}
	}))

	// Cancelled while running: stops at the next stage boundary.
	id := b.submit(t, []byte("x"), job.Options{})
	w := b.watch(t, id)
	recv(t, inDetect)
	_, err := b.status.RequestCancel(b.ctx, id)
	require.NoError(t, err)
	close(release)
	recs := w.final(t)
	last := recs[len(recs)-1]
	require.Equal(t, status.StateCanceled, last.State)
	for _, r := range recs {
		require.NotEqual(t, "landmarks", r.Stage, "no stage may run after the cancel")
	}
	b.waitIdle(t)
	require.EqualValues(t, 1, calls.Load())
	keys, err := b.store.ListResults(b.ctx, id)
	require.NoError(t, err)
	require.Empty(t, keys)
	require.Zero(t, b.redelivered(t))
}

func TestWorkerCancelQueued(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{})
	var calls atomic.Int32
	id := b.submit(t, []byte("x"), job.Options{})
	_, err := b.status.RequestCancel(b.ctx, id)
	require.NoError(t, err)
	b.start(t, stagedProcessor(&calls, nil))
	b.waitIdle(t)
	r, err := b.status.Get(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, status.StateCanceled, r.State)
	require.Zero(t, calls.Load())
}

func TestWorkerHeartbeatsLongJob(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{AckWait: time.Second})
	var calls atomic.Int32
	b.start(t, stagedProcessor(&calls, func(stage string) {
		if stage == "texture" {
			time.Sleep(2500 * time.Millisecond) // a stage longer than AckWait
		}
	}))
	id := b.submit(t, []byte("x"), job.Options{})
	b.waitState(t, id, isState(status.StateSucceeded))
	b.waitIdle(t)
	require.EqualValues(t, 1, calls.Load(), "the job must not be redelivered while it runs")
	require.Zero(t, b.redelivered(t))
}

func TestWorkerGracefulShutdownDrains(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{})
	var calls atomic.Int32
	started := make(chan struct{})
	release := make(chan struct{})
	stop := b.start(t, stagedProcessor(&calls, func(stage string) {
		if stage == "landmarks" {
			close(started)
			recv(t, release)
		}
	}))
	id := b.submit(t, []byte("x"), job.Options{})
	recv(t, started)
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Run returned while a job was in flight")
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	recv(t, stopped)
	r, err := b.status.Get(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, status.StateSucceeded, r.State)
	b.waitIdle(t)
}

func TestWorkerDrainTimeoutRequeues(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{AckWait: 30 * time.Second})
	b.cfg.DrainTimeout = 100 * time.Millisecond
	var calls atomic.Int32
	started := make(chan struct{}, 1)
	stop := b.start(t, stagedProcessor(&calls, func(stage string) {
		if stage == "landmarks" {
			select {
			case started <- struct{}{}:
			default:
			}
			time.Sleep(500 * time.Millisecond)
		}
	}))
	id := b.submit(t, []byte("x"), job.Options{})
	recv(t, started)
	stop()
	r, err := b.status.Get(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, status.StateRunning, r.State)

	// The Nak'd job is redelivered at once (not after the 30s ack wait).
	b.cfg.DrainTimeout = 5 * time.Second
	b.start(t, stagedProcessor(&calls, nil))
	require.Eventually(t, func() bool {
		r, err := b.status.Get(b.ctx, id)
		return err == nil && r.State == status.StateSucceeded
	}, 5*time.Second, 10*time.Millisecond)
	require.EqualValues(t, 2, calls.Load())
}

func TestWorkerSlotsCapConcurrency(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{})
	b.cfg.Slots = 2
	var cur, peak atomic.Int32
	b.start(t, funcProcessor(func(ctx context.Context, data []byte, o pipeline.Options, p pipeline.Progress) (*pipeline.Output, error) {
		n := cur.Add(1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
		cur.Add(-1)
		return &pipeline.Output{}, nil
	}))
	var ids []string
	for range 6 {
		ids = append(ids, b.submit(t, []byte("x"), job.Options{}))
	}
	for _, id := range ids {
		b.waitState(t, id, isState(status.StateSucceeded))
	}
	require.EqualValues(t, 2, peak.Load())
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	_, err := New(Config{}, Deps{})
	require.ErrorIs(t, err, ErrInvalidConfig)
	_, err = New(Config{Name: "x", Slots: -1}, Deps{})
	require.ErrorIs(t, err, ErrInvalidConfig)
	require.ErrorContains(t, err, "Slots")
	require.ErrorContains(t, err, "Fetcher")
}

func TestLenientRecord(t *testing.T) {
	t.Parallel()
	id, err := job.NewID()
	require.NoError(t, err)
	require.Equal(t, status.Record{ID: id, Tenant: "acme", Input: "inputs/acme/a.jpg"},
		lenientRecord([]byte(`{"id":"`+id+`","tenant":"acme","input":{"key":"inputs/acme/a.jpg"},"x":1}`)))
	require.Equal(t, status.Record{ID: id, Tenant: "acme"},
		lenientRecord([]byte(`{"id":"`+id+`","tenant":"acme","input":{"key":"inputs/../etc"}}`)), "a bad key is not recorded")
	require.Equal(t, status.Record{ID: id, Tenant: "acme"},
		lenientRecord([]byte(`{"id":"`+id+`","tenant":"acme","input":5}`)), "a wrong type elsewhere keeps the ID")
	require.Equal(t, status.Record{ID: id}, lenientRecord([]byte(`{"id":"`+id+`","tenant":"a b"}`)))
	for _, bad := range []string{`{"id":"abc"}`, `{"id":"../x"}`, `not json`, `{"id":5}`, `[1]`, `{"id":"` + strings.ToUpper(id) + `"}`} {
		require.Empty(t, lenientRecord([]byte(bad)).ID, bad)
	}
}

func FuzzLenientRecord(f *testing.F) {
	f.Add([]byte(`{"id":"0190b3c4-6b1d-7f3e-8a2b-1c2d3e4f5a6b","tenant":"acme"}`))
	f.Add([]byte(`{"id":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := lenientRecord(b)
		if r.ID != "" {
			require.True(t, job.ValidID(r.ID))
		}
		if r.Tenant != "" {
			require.True(t, job.ValidTenant(r.Tenant))
		}
		if r.Input != "" {
			require.NoError(t, job.ValidateKey(r.Input))
		}
	})
}

// faultStatus wraps the real status store and fails every terminal Reject:
// the seam for a Redis outage at the end of a job.
type faultStatus struct {
	*status.Store
	fails atomic.Int32
}

func (f *faultStatus) Reject(ctx context.Context, rec status.Record, code, msg string) (status.Record, error) {
	f.fails.Add(1)
	return status.Record{}, errors.New("injected redis failure: connection refused")
}

// A job whose failed status cannot be stored is retried while deliveries
// remain and, on the last one, dead-lettered and terminated rather than left
// unacknowledged in the stream.
func TestWorkerStatusOutageOnLastDeliveryDeadLetters(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{})
	fs := &faultStatus{Store: b.status}
	var calls atomic.Int32
	w, err := New(b.cfg, Deps{Fetcher: b.fetcher, Queue: b.q, Status: fs, Images: b.images,
		Processor: funcProcessor(func(ctx context.Context, data []byte, o pipeline.Options, p pipeline.Progress) (*pipeline.Output, error) {
			calls.Add(1)
			return nil, errors.New("s3: i/o timeout")
		}), Logger: testkit.Logger(t)})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(waitLong):
			t.Error("worker did not stop")
		}
	})

	b.submit(t, []byte("x"), job.Options{})
	require.Eventually(t, func() bool { return b.deadLetters(t) == 1 }, waitLong, 20*time.Millisecond)
	b.waitIdle(t)
	require.EqualValues(t, b.cfg.MaxDeliver, calls.Load(), "every delivery ran")
	require.EqualValues(t, 1, fs.fails.Load(), "Reject is tried once, on the last delivery")
}
