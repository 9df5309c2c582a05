package fleet

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/worker/internal/pipeline"
)

const waitLong = 20 * time.Second

func isState(s string) func(memRecord) bool { return func(r memRecord) bool { return r.State == s } }

// waitConsumerIdle waits until the consumer has nothing pending or unacked.
func (b *loopBundle) waitConsumerIdle(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		info, err := b.src.cons.Info(context.Background())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	}, waitLong, 20*time.Millisecond)
}

func TestWorkerSucceeds(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	var mu sync.Mutex
	calls := 0
	b.start(t, stagedProcessor(&calls, &mu, nil))
	b.publish(t, "job-1", "inputs/job-1/a.jpg", []byte("image-bytes"))
	r := b.status.waitFor(t, "job-1", waitLong, isState(StatusSucceeded))
	require.Equal(t, []string{"results/job-1/result.json"}, r.outputs)
	require.Equal(t, []byte("image-bytes"), b.images.results["results/job-1/result.json"])
	require.Contains(t, r.timings, StageUpload)
	require.Equal(t, []string{"running", "progress decode 20", "progress detect 40", "progress landmarks 60",
		"progress texture 80", "progress encode 100", "succeeded"}, b.status.eventsOf("job-1"))
	b.waitConsumerIdle(t)
	mu.Lock()
	require.Equal(t, 1, calls)
	mu.Unlock()
}

func TestWorkerBadMessageTerminates(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	var mu sync.Mutex
	calls := 0
	b.start(t, stagedProcessor(&calls, &mu, nil))
	_, err := b.nats.JS.Publish(context.Background(), "jobs.normal", []byte(`{"id":"job-x","input":"k","extra":1}`))
	require.NoError(t, err)
	_, err = b.nats.JS.Publish(context.Background(), "jobs.normal", []byte(`{"id":"job-y"}`))
	require.NoError(t, err)
	b.status.waitFor(t, "job-y", waitLong, isState(StatusFailed))
	b.waitConsumerIdle(t)
	info, err := b.src.cons.Info(context.Background())
	require.NoError(t, err)
	require.Zero(t, info.NumRedelivered)
	require.Equal(t, CodeInvalid, b.status.get("job-y").code)
	mu.Lock()
	require.Zero(t, calls)
	mu.Unlock()
}

func TestWorkerPermanentErrorNoRetry(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	var calls atomic.Int32
	b.start(t, funcProcessor(func(ctx context.Context, data []byte, o pipeline.Options, p pipeline.Progress) (*pipeline.Output, error) {
		calls.Add(1)
		return nil, &pipeline.OptionError{Problems: []string{"uv_size 3"}}
	}))
	b.publish(t, "job-p", "in", []byte("x"))
	r := b.status.waitFor(t, "job-p", waitLong, isState(StatusFailed))
	require.Equal(t, "invalid_options", r.code)
	b.waitConsumerIdle(t)
	require.EqualValues(t, 1, calls.Load())
}

func TestWorkerTransientUploadRetried(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	b.images.failPuts = 1
	var mu sync.Mutex
	calls := 0
	b.start(t, stagedProcessor(&calls, &mu, nil))
	b.publish(t, "job-t", "in", []byte("x"))
	r := b.status.waitFor(t, "job-t", waitLong, isState(StatusSucceeded))
	require.Equal(t, 2, r.attempts)
	mu.Lock()
	require.Equal(t, 2, calls)
	mu.Unlock()
	b.waitConsumerIdle(t)
}

func TestWorkerDeadLettersAfterMaxDeliver(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	var calls atomic.Int32
	b.start(t, funcProcessor(func(ctx context.Context, data []byte, o pipeline.Options, p pipeline.Progress) (*pipeline.Output, error) {
		calls.Add(1)
		return nil, errors.New("redis: i/o timeout")
	}))
	b.publish(t, "job-d", "in", []byte("x"))
	r := b.status.waitFor(t, "job-d", waitLong, isState(StatusFailed))
	require.Equal(t, CodeInternal, r.code)
	require.Contains(t, r.msg, "gave up after 3 deliveries")
	b.waitConsumerIdle(t)
	require.EqualValues(t, 3, calls.Load())
	b.src.mu.Lock()
	require.Len(t, b.src.dead, 1)
	b.src.mu.Unlock()
}

func TestWorkerPanicIsRetried(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	var calls atomic.Int32
	var mu sync.Mutex
	n := 0
	ok := stagedProcessor(&n, &mu, nil)
	b.start(t, funcProcessor(func(ctx context.Context, data []byte, o pipeline.Options, p pipeline.Progress) (*pipeline.Output, error) {
		if calls.Add(1) == 1 {
			var m map[string]int
			m["boom"] = 1 // nil map write panics
		}
		return ok(ctx, data, o, p)
	}))
	b.publish(t, "job-panic", "in", []byte("x"))
	b.status.waitFor(t, "job-panic", waitLong, isState(StatusSucceeded))
	require.EqualValues(t, 2, calls.Load())
}

func TestWorkerRedeliveredSucceededJobIsAckedWithoutRecompute(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	var mu sync.Mutex
	calls := 0
	b.start(t, stagedProcessor(&calls, &mu, nil))
	b.publish(t, "job-r", "in", []byte("x"))
	b.status.waitFor(t, "job-r", waitLong, isState(StatusSucceeded))
	b.waitConsumerIdle(t)
	// The same job delivered again (as after an ack lost in a crash).
	b.publish(t, "job-r", "in", []byte("x"))
	b.waitConsumerIdle(t)
	mu.Lock()
	require.Equal(t, 1, calls)
	mu.Unlock()
	require.Equal(t, 1, b.status.get("job-r").attempts)
}

func TestWorkerCancel(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	var mu sync.Mutex
	calls := 0
	inDetect := make(chan struct{})
	release := make(chan struct{})
	b.start(t, stagedProcessor(&calls, &mu, func(stage string) {
		if stage == "detect" {
			close(inDetect)
			<-release
		}
	}))

	// Cancelled while queued: never processed.
	b.status.requestCancel("job-q")
	b.publish(t, "job-q", "in", []byte("x"))
	b.status.waitFor(t, "job-q", waitLong, isState(StatusCanceled))

	// Cancelled while running: stops at the next stage boundary.
	b.publish(t, "job-c", "in", []byte("x"))
	recv(t, inDetect)
	b.status.requestCancel("job-c")
	close(release)
	b.status.waitFor(t, "job-c", waitLong, isState(StatusCanceled))
	require.NotContains(t, b.status.eventsOf("job-c"), "progress landmarks 60")
	b.waitConsumerIdle(t)
	mu.Lock()
	require.Equal(t, 1, calls)
	mu.Unlock()
	require.Empty(t, b.images.results)
}

func TestWorkerHeartbeatsLongJob(t *testing.T) {
	t.Parallel()
	b := setupLoop(t) // AckWait 2s
	var mu sync.Mutex
	calls := 0
	b.start(t, stagedProcessor(&calls, &mu, func(stage string) {
		if stage == "texture" {
			time.Sleep(5 * time.Second) // a slow stage, longer than AckWait
		}
	}))
	b.publish(t, "job-long", "in", []byte("x"))
	b.status.waitFor(t, "job-long", waitLong, isState(StatusSucceeded))
	b.waitConsumerIdle(t)
	mu.Lock()
	require.Equal(t, 1, calls, "the job must not be redelivered while it runs")
	mu.Unlock()
}

func TestWorkerGracefulShutdownDrains(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	var mu sync.Mutex
	calls := 0
	started := make(chan struct{})
	release := make(chan struct{})
	stop := b.start(t, stagedProcessor(&calls, &mu, func(stage string) {
		if stage == "landmarks" {
			close(started)
			<-release
		}
	}))
	b.publish(t, "job-g", "in", []byte("x"))
	recv(t, started)
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Run returned while a job was in flight")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	recv(t, stopped)
	require.Equal(t, StatusSucceeded, b.status.get("job-g").State)
	b.waitConsumerIdle(t)
}

func TestWorkerDrainTimeoutRequeues(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	b.cfg.DrainTimeout = 100 * time.Millisecond
	var mu sync.Mutex
	calls := 0
	started := make(chan struct{}, 2)
	stop := b.start(t, stagedProcessor(&calls, &mu, func(stage string) {
		if stage == "landmarks" {
			started <- struct{}{}
			time.Sleep(500 * time.Millisecond)
		}
	}))
	b.publish(t, "job-s", "in", []byte("x"))
	recv(t, started)
	stop()
	require.Equal(t, "running", b.status.get("job-s").State)

	// A new worker picks the Nak'd job up at once (no ack-wait delay).
	b.cfg.DrainTimeout = 5 * time.Second
	b.start(t, stagedProcessor(&calls, &mu, nil))
	b.status.waitFor(t, "job-s", 3*time.Second, isState(StatusSucceeded))
	mu.Lock()
	require.Equal(t, 2, calls)
	mu.Unlock()
}

func TestWorkerSlotsCapConcurrency(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
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
	for i := range 6 {
		id := "job-" + string(rune('a'+i))
		b.publish(t, id, "in", []byte("x"))
	}
	for i := range 6 {
		b.status.waitFor(t, "job-"+string(rune('a'+i)), waitLong, isState(StatusSucceeded))
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
	require.ErrorContains(t, err, "Source")
}
