package fleet

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/queue"
	"github.com/facefleet/facefleet/shared/status"
	"github.com/facefleet/facefleet/shared/storage"
	"github.com/facefleet/facefleet/shared/testkit"
	"github.com/facefleet/facefleet/worker/internal/pipeline"
)

const waitLong = 30 * time.Second

// faultImages wraps the real storage and fails the first failPuts uploads:
// the seam for S3 fault tests.
type faultImages struct {
	*storage.Store
	failPuts atomic.Int32
	puts     atomic.Int32
}

func (f *faultImages) PutBytes(ctx context.Context, key string, b []byte, ct string) error {
	f.puts.Add(1)
	if f.failPuts.Add(-1) >= 0 {
		return fmt.Errorf("injected S3 failure for %s: %w", key, errors.New("connection reset by peer"))
	}
	return f.Store.PutBytes(ctx, key, b, ct)
}

// funcProcessor is a Processor from a function.
type funcProcessor func(ctx context.Context, data []byte, o pipeline.Options, p pipeline.Progress) (*pipeline.Output, error)

func (f funcProcessor) Run(ctx context.Context, data []byte, o pipeline.Options, p pipeline.Progress) (*pipeline.Output, error) {
	return f(ctx, data, o, p)
}

// stagedProcessor reports the pipeline's stages and returns the input as
// result.json; gate, when set, runs before each stage's report.
func stagedProcessor(calls *atomic.Int32, gate func(stage string)) funcProcessor {
	return func(ctx context.Context, data []byte, o pipeline.Options, p pipeline.Progress) (*pipeline.Output, error) {
		calls.Add(1)
		for i, st := range []string{"decode", "detect", "landmarks", "texture", "encode"} {
			if gate != nil {
				gate(st)
			}
			p(st, (i+1)*20)
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("stub cancelled after %s: %w", st, err)
			}
		}
		return &pipeline.Output{Files: []pipeline.File{{Path: "result.json", ContentType: "application/json", Data: data}}}, nil
	}
}

// testBundle is a worker's world: real NATS (queue), Redis (status) and S3
// (storage), each private to the test.
type testBundle struct {
	ctx     context.Context
	nats    *testkit.NATSEnv
	q       *queue.Queue
	qcfg    queue.Config
	fetcher *queue.Fetcher
	status  *status.Store
	store   *storage.Store
	images  *faultImages
	bucket  string
	cfg     Config
	// notifier, when set, is the workers' Notifier (webhooks).
	notifier Notifier
}

func setup(t *testing.T, qcfg queue.Config) *testBundle {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	env := testkit.NATS(t)
	if qcfg.AckWait == 0 {
		qcfg.AckWait = 2 * time.Second
	}
	if qcfg.MaxDeliver == 0 {
		qcfg.MaxDeliver = 3
	}
	require.NoError(t, queue.Provision(ctx, env.JS, qcfg))
	q, err := queue.New(env.JS, qcfg)
	require.NoError(t, err)
	f, err := q.Fetcher(ctx)
	require.NoError(t, err)
	rdb := testkit.Redis(t)
	s3 := testkit.S3(t)
	store := testkit.Store(t, s3)
	return &testBundle{
		ctx: ctx, nats: env, q: q, qcfg: q.Config(), fetcher: f,
		status: status.New(rdb.Client, status.Config{}),
		store:  store, images: &faultImages{Store: store}, bucket: s3.Bucket,
		cfg: Config{Name: "w1", Slots: 2, Bucket: s3.Bucket, AckWait: q.Config().AckWait, MaxDeliver: q.Config().MaxDeliver,
			DrainTimeout: 5 * time.Second, FetchWait: 200 * time.Millisecond,
			Retry: func(int) time.Duration { return 50 * time.Millisecond }},
	}
}

// submit does what the producer does (testkit.Producer.Submit). It returns
// the job ID.
func (b *testBundle) submit(t *testing.T, image []byte, opts job.Options) string {
	t.Helper()
	return testkit.Producer{Store: b.store, Status: b.status, Queue: b.q}.Submit(b.ctx, t, image, opts)
}

func (b *testBundle) publish(t *testing.T, m *job.Message) {
	t.Helper()
	_, err := b.q.Publish(b.ctx, m)
	require.NoError(t, err)
}

// start runs a Worker on p until the test ends or stop is called.
func (b *testBundle) start(t *testing.T, p Processor) (stop func()) {
	t.Helper()
	w, err := New(b.cfg, Deps{Fetcher: b.fetcher, Queue: b.q, Status: b.status, Images: b.images,
		Processor: p, Notifier: b.notifier, Logger: testkit.Logger(t)})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(waitLong):
				t.Error("worker did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// watch collects every status record of id from now on.
type watcher struct {
	mu   sync.Mutex
	recs []status.Record
	done chan struct{}
}

func (b *testBundle) watch(t *testing.T, id string) *watcher {
	t.Helper()
	ch, err := b.status.Watch(b.ctx, id)
	require.NoError(t, err)
	w := &watcher{done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for r := range ch {
			w.mu.Lock()
			w.recs = append(w.recs, r)
			w.mu.Unlock()
		}
	}()
	return w
}

// final waits for the watch to end (a terminal record) and returns all records.
func (w *watcher) final(t *testing.T) []status.Record {
	t.Helper()
	recv(t, w.done)
	w.mu.Lock()
	defer w.mu.Unlock()
	require.NotEmpty(t, w.recs)
	return w.recs
}

// waitState waits until the job's record satisfies cond.
func (b *testBundle) waitState(t *testing.T, id string, cond func(status.Record) bool) status.Record {
	t.Helper()
	var last status.Record
	require.Eventually(t, func() bool {
		r, err := b.status.Get(b.ctx, id)
		last = r
		return err == nil && cond(r)
	}, waitLong, 10*time.Millisecond, "job %s never reached the state; last %+v", id, last)
	return last
}

func isState(s status.State) func(status.Record) bool {
	return func(r status.Record) bool { return r.State == s }
}

// waitIdle waits until no consumer has messages pending or unacknowledged.
func (b *testBundle) waitIdle(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		lag, err := b.q.Lag(b.ctx)
		return err == nil && lag.Total() == 0
	}, waitLong, 20*time.Millisecond)
}

// redelivered sums NumRedelivered over the priority consumers.
func (b *testBundle) redelivered(t *testing.T) int {
	t.Helper()
	n := 0
	for _, p := range job.Priorities() {
		c, err := b.nats.JS.Consumer(b.ctx, b.qcfg.Stream, queue.ConsumerName(p))
		require.NoError(t, err)
		info, err := c.Info(b.ctx)
		require.NoError(t, err)
		n += info.NumRedelivered
	}
	return n
}

// deadLetters counts messages in the dead-letter stream.
func (b *testBundle) deadLetters(t *testing.T) uint64 {
	t.Helper()
	s, err := b.nats.JS.Stream(b.ctx, b.qcfg.DeadLetterStream)
	require.NoError(t, err)
	info, err := s.Info(b.ctx)
	require.NoError(t, err)
	return info.State.Msgs
}

// recv waits for ch with a timeout.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLong):
		t.Fatal("timeout waiting on channel")
	}
	var zero T
	return zero
}
