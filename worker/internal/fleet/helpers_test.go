package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/devservers"
	"github.com/facefleet/facefleet/worker/internal/pipeline"
)

// tlog routes slog to t.Log.
type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// jsSource is a Source over one JetStream pull consumer, used until the
// tests run against shared/queue.
type jsSource struct {
	js   jetstream.JetStream
	cons jetstream.Consumer
	wait time.Duration

	mu   sync.Mutex
	dead []string // reasons of dead-lettered messages
}

func (s *jsSource) Fetch(ctx context.Context, max int) ([]jetstream.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, s.wait)
	defer cancel()
	b, err := s.cons.Fetch(max, jetstream.FetchContext(ctx))
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil
		}
		return nil, err
	}
	var out []jetstream.Msg
	for m := range b.Messages() {
		out = append(out, m)
	}
	return out, nil
}

func (s *jsSource) DeadLetter(ctx context.Context, msg jetstream.Msg, reason string) error {
	s.mu.Lock()
	s.dead = append(s.dead, reason)
	s.mu.Unlock()
	return nil
}

func (s *jsSource) Pending(ctx context.Context) (uint64, error) {
	info, err := s.cons.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.NumPending, nil
}

// memStatus is an in-memory StatusStore that records every call.
type memStatus struct {
	mu     sync.Mutex
	states map[string]*memRecord
	events []string
	change chan struct{}
}

type memRecord struct {
	JobState
	attempts  int
	outputs   []string
	code, msg string
	timings   map[string]float64
}

func newMemStatus() *memStatus {
	return &memStatus{states: map[string]*memRecord{}, change: make(chan struct{})}
}

func (s *memStatus) rec(id string) *memRecord {
	r := s.states[id]
	if r == nil {
		r = &memRecord{JobState: JobState{State: "queued"}}
		s.states[id] = r
	}
	return r
}

func (s *memStatus) note(id, ev string) {
	s.events = append(s.events, id+" "+ev)
	close(s.change)
	s.change = make(chan struct{})
}

func (s *memStatus) State(ctx context.Context, id string) (JobState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec(id).JobState, ctx.Err()
}

func (s *memStatus) Start(ctx context.Context, id, worker string, attempt int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rec(id)
	r.State = "running"
	r.attempts++
	s.note(id, "running")
	return nil
}

func (s *memStatus) Progress(ctx context.Context, id, stage string, percent int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.note(id, fmt.Sprintf("progress %s %d", stage, percent))
	return nil
}

func (s *memStatus) Succeed(ctx context.Context, id string, outputs []string, timings map[string]float64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rec(id)
	r.State, r.outputs, r.timings = StatusSucceeded, outputs, timings
	s.note(id, StatusSucceeded)
	return nil
}

func (s *memStatus) Fail(ctx context.Context, id, code, msg string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rec(id)
	r.State, r.code, r.msg = StatusFailed, code, msg
	s.note(id, StatusFailed+" "+code)
	return nil
}

func (s *memStatus) Cancel(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec(id).State = StatusCanceled
	s.note(id, StatusCanceled)
	return nil
}

func (s *memStatus) requestCancel(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec(id).CancelRequested = true
}

func (s *memStatus) get(id string) memRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.rec(id)
}

// waitFor waits until cond holds on the record of id.
func (s *memStatus) waitFor(t *testing.T, id string, timeout time.Duration, cond func(memRecord) bool) memRecord {
	t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		r, ch := *s.rec(id), s.change
		s.mu.Unlock()
		if cond(r) {
			return r
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timeout waiting on job %s; last state %+v; events %v", id, r, s.eventsOf(id))
		}
	}
}

func (s *memStatus) eventsOf(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.events {
		if rest, ok := strings.CutPrefix(e, id+" "); ok {
			out = append(out, rest)
		}
	}
	return out
}

// memImages is an in-memory ImageStore with optional injected upload failures.
type memImages struct {
	mu       sync.Mutex
	inputs   map[string][]byte
	results  map[string][]byte
	puts     int
	failPuts int // fail this many PutResult calls first
}

func (m *memImages) GetInput(ctx context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.inputs[key]
	if !ok {
		return nil, fmt.Errorf("no input %s", key)
	}
	return b, nil
}

func (m *memImages) PutResult(ctx context.Context, id, rel, ct string, data []byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.puts++
	if m.failPuts > 0 {
		m.failPuts--
		return "", errors.New("injected upload failure")
	}
	key := "results/" + id + "/" + rel
	m.results[key] = append([]byte(nil), data...)
	return key, nil
}

// funcProcessor is a Processor from a function.
type funcProcessor func(ctx context.Context, data []byte, o pipeline.Options, p pipeline.Progress) (*pipeline.Output, error)

func (f funcProcessor) Run(ctx context.Context, data []byte, o pipeline.Options, p pipeline.Progress) (*pipeline.Output, error) {
	return f(ctx, data, o, p)
}

// stagedProcessor reports every stage and returns one file; each stage may block on gate.
func stagedProcessor(calls *int, mu *sync.Mutex, gate func(stage string)) funcProcessor {
	return func(ctx context.Context, data []byte, o pipeline.Options, p pipeline.Progress) (*pipeline.Output, error) {
		mu.Lock()
		*calls++
		mu.Unlock()
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

func testDecode(b []byte) (Job, error) {
	var j struct {
		ID    string `json:"id"`
		Input string `json:"input"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return Job{}, err
	}
	if j.ID == "" || j.Input == "" {
		return Job{ID: j.ID}, errors.New("id and input required")
	}
	return Job{ID: j.ID, InputKey: j.Input}, nil
}

type loopBundle struct {
	nats   *devservers.NATSEnv
	src    *jsSource
	status *memStatus
	images *memImages
	cfg    Config
}

func setupLoop(t *testing.T) *loopBundle {
	t.Helper()
	env := devservers.NATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := env.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "JOBS", Subjects: []string{"jobs.>"}})
	require.NoError(t, err)
	cons, err := env.JS.CreateOrUpdateConsumer(ctx, "JOBS", jetstream.ConsumerConfig{
		Durable: "workers", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 2 * time.Second, MaxDeliver: 3,
	})
	require.NoError(t, err)
	return &loopBundle{
		nats:   env,
		src:    &jsSource{js: env.JS, cons: cons, wait: 100 * time.Millisecond},
		status: newMemStatus(),
		images: &memImages{inputs: map[string][]byte{}, results: map[string][]byte{}},
		cfg: Config{Name: "w1", Slots: 2, AckWait: 2 * time.Second, MaxDeliver: 3, DrainTimeout: 5 * time.Second,
			Retry: func(int) time.Duration { return 50 * time.Millisecond }},
	}
}

func (b *loopBundle) publish(t *testing.T, id, input string, data []byte) {
	t.Helper()
	b.images.mu.Lock()
	b.images.inputs[input] = data
	b.images.mu.Unlock()
	_, err := b.nats.JS.Publish(context.Background(), "jobs.normal", fmt.Appendf(nil, `{"id":%q,"input":%q}`, id, input))
	require.NoError(t, err)
}

// start runs a Worker until the test ends (or stop is called) and returns stop.
func (b *loopBundle) start(t *testing.T, p Processor) (stop func()) {
	t.Helper()
	w, err := New(b.cfg, Deps{Source: b.src, Decode: testDecode, Status: b.status, Images: b.images,
		Processor: p, Logger: testLogger(t)})
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
			case <-time.After(30 * time.Second):
				t.Error("worker did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return stop
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
