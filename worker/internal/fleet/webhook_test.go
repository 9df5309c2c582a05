package fleet

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/queue"
	"github.com/facefleet/facefleet/shared/status"
	"github.com/facefleet/facefleet/shared/testkit"
	"github.com/facefleet/facefleet/shared/webhook"
	"github.com/facefleet/facefleet/worker/internal/pipeline"
)

// hookReceiver is a real HTTP server standing in for a user's service. It
// checks every request's signature with its own HMAC code (as a receiver in
// another language would), keeps every attempt, and answers 500 to the
// first attempt of each webhook-id whose event is in failFirst.
type hookReceiver struct {
	t         *testing.T
	key       []byte
	failFirst map[string]bool
	srv       *httptest.Server
	mu        sync.Mutex
	attempts  []hookAttempt
	got       chan hookAttempt // 2xx-answered attempts
}

type hookAttempt struct {
	id, body string
	payload  webhook.Payload
	at       time.Time
	status   int
}

func newHookReceiver(t *testing.T, key []byte, failFirst ...string) *hookReceiver {
	r := &hookReceiver{t: t, key: key, failFirst: map[string]bool{}, got: make(chan hookAttempt, 256)}
	for _, e := range failFirst {
		r.failFirst["job."+e] = true
	}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	at := time.Now()
	body, _ := io.ReadAll(req.Body)
	id, ts := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp")
	mac := hmac.New(sha256.New, r.key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	if req.Header.Get("webhook-signature") != "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
		r.t.Errorf("webhook %s: bad signature", id)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	a := hookAttempt{id: id, body: string(body), at: at, status: http.StatusOK}
	if err := json.Unmarshal(body, &a.payload); err != nil {
		r.t.Errorf("webhook %s: body is not a payload: %v", id, err)
	}
	r.mu.Lock()
	first := !slices.ContainsFunc(r.attempts, func(x hookAttempt) bool { return x.id == id })
	if first && r.failFirst[a.payload.Type] {
		a.status = http.StatusInternalServerError
	}
	r.attempts = append(r.attempts, a)
	r.mu.Unlock()
	w.WriteHeader(a.status)
	if a.status == http.StatusOK {
		r.got <- a
	}
}

// all returns every attempt so far and checks that no webhook-id ever came
// with two different bodies.
func (r *hookReceiver) all(t *testing.T) []hookAttempt {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	bodies := map[string]string{}
	for _, a := range r.attempts {
		if b, ok := bodies[a.id]; ok {
			require.Equal(t, b, a.body, "webhook-id %s seen with a different body", a.id)
		}
		bodies[a.id] = a.body
	}
	return append([]hookAttempt(nil), r.attempts...)
}

var hookKey = []byte("facefleet-fleet-test-webhook-key")

// withWebhooks gives the bundle's workers an outbox and runs a dispatcher
// that may call loopback and signs acme's webhooks with hookKey.
func (b *testBundle) withWebhooks(t *testing.T) *Metrics {
	t.Helper()
	m := NewMetrics()
	b.notifier = webhook.NewOutbox(b.nats.JS, b.qcfg, b.store, testkit.Logger(t))
	allow, err := webhook.ParseAllow("127.0.0.0/8,::1")
	require.NoError(t, err)
	d, err := webhook.NewDispatcher(b.ctx, b.nats.JS, b.qcfg, webhook.DispatcherConfig{
		Secrets: map[string]webhook.Secret{"acme": hookKey}, Policy: webhook.Policy{Allow: allow},
		Retry:   func(attempt int) time.Duration { return Backoff(attempt, 50*time.Millisecond, time.Second, 0.2, nil) },
		Observe: m.ObserveWebhook,
		Logger:  testkit.Logger(t),
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(b.ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return m
}

func TestWorkerWebhooks(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{})
	m := b.withWebhooks(t)
	rcv := newHookReceiver(t, hookKey, job.EventSucceeded, job.EventFailed)
	var calls atomic.Int32
	staged := stagedProcessor(&calls, nil)
	b.start(t, funcProcessor(func(ctx context.Context, data []byte, o pipeline.Options, p pipeline.Progress) (*pipeline.Output, error) {
		if string(data) == "not an image" {
			return nil, &pipeline.OptionError{Problems: []string{"stand-in for a bad image"}}
		}
		return staged(ctx, data, o, p)
	}))

	// Every event, then the default (terminal) ones of a failing job.
	ok := b.submit(t, []byte("image-bytes"), job.Options{Webhook: &job.Webhook{URL: rcv.srv.URL + "/hooks?job=ok",
		Events: []string{job.EventStarted, job.EventProgress, job.EventSucceeded}}})
	bad := b.submit(t, []byte("not an image"), job.Options{Webhook: &job.Webhook{URL: rcv.srv.URL + "/hooks?job=bad"}})
	okRec := b.waitState(t, ok, isState(status.StateSucceeded))
	badRec := b.waitState(t, bad, isState(status.StateFailed))

	var succeeded, failed hookAttempt
	for succeeded.id == "" || failed.id == "" {
		a := recv(t, rcv.got)
		switch a.payload.Type {
		case "job.succeeded":
			succeeded = a
		case "job.failed":
			failed = a
		}
	}
	b.waitIdle(t)
	attempts := rcv.all(t)
	types := map[string][]string{} // job → event types answered 2xx, in order
	tries := map[string]int{}
	for _, a := range attempts {
		tries[a.id]++
		if a.status == http.StatusOK {
			types[a.payload.Data.ID] = append(types[a.payload.Data.ID], a.payload.Type)
		}
	}
	// Every transition once (deliveries run concurrently: no order between
	// events is promised, but the retried succeeded comes last here).
	require.ElementsMatch(t, []string{"job.started", "job.progress", "job.progress", "job.progress", "job.progress",
		"job.progress", "job.succeeded"}, types[ok])
	require.Equal(t, "job.succeeded", types[ok][len(types[ok])-1])
	require.Equal(t, []string{"job.failed"}, types[bad], "default events: the terminal ones")
	require.Equal(t, 2, tries[succeeded.id], "the 500 was retried once, under the same id")
	require.Equal(t, 2, tries[failed.id])

	// The payloads carry the job record and working result URLs.
	require.Equal(t, webhook.ID(okRec), succeeded.id)
	require.Equal(t, okRec.Outputs, succeeded.payload.Data.Outputs)
	require.Len(t, succeeded.payload.Data.Results, 1)
	resp, err := http.Get(succeeded.payload.Data.Results[0].URL)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "image-bytes", string(body), "the presigned URL reads the result")
	require.Equal(t, badRec.ErrorCode, failed.payload.Data.ErrorCode)
	require.Equal(t, "invalid_options", failed.payload.Data.ErrorCode)
	require.Empty(t, failed.payload.Data.Results)

	// Metrics: 8 events delivered, the two 500s retried.
	require.Equal(t, 8.0, webhookCount(t, m, webhook.ResultDelivered))
	require.Equal(t, 2.0, webhookCount(t, m, webhook.ResultRetried))
	require.Zero(t, webhookCount(t, m, webhook.ResultRefused))
}

// webhookCount reads facefleet_worker_webhooks_total{result} from the registry.
func webhookCount(t *testing.T, m *Metrics, result string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "facefleet_worker_webhooks_total" {
			continue
		}
		for _, metric := range mf.GetMetric() {
			for _, l := range metric.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return metric.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no webhooks_total{result=%q}", result)
	return 0
}

// How long a webhook takes from the end of a job (finished_at in its
// record) to the receiver, with a receiver that answers at once. Measured
// and logged, not asserted.
func TestWorkerWebhookLatency(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{})
	b.withWebhooks(t)
	rcv := newHookReceiver(t, hookKey)
	var calls atomic.Int32
	b.start(t, stagedProcessor(&calls, nil))
	const n = 20
	var lat []time.Duration
	for range n {
		id := b.submit(t, []byte("x"), job.Options{Webhook: &job.Webhook{URL: rcv.srv.URL}})
		a := recv(t, rcv.got)
		require.Equal(t, id, a.payload.Data.ID)
		rec, err := b.status.Get(b.ctx, id)
		require.NoError(t, err)
		lat = append(lat, a.at.Sub(rec.FinishedAt))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("webhook latency, job end (finished_at) → receipt, %d jobs one after another: min %v, median %v, p90 %v, max %v",
		n, lat[0].Round(10*time.Microsecond), lat[n/2].Round(10*time.Microsecond), lat[n*9/10].Round(10*time.Microsecond), lat[n-1].Round(10*time.Microsecond))
}
