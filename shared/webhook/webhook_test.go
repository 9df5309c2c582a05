package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/queue"
	"github.com/facefleet/facefleet/shared/status"
	"github.com/facefleet/facefleet/shared/testkit"
	"github.com/facefleet/facefleet/shared/webhook"
)

// The example of the Standard Webhooks reference libraries.
func TestSignKnownVector(t *testing.T) {
	t.Parallel()
	key, err := webhook.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	require.NoError(t, err)
	body := []byte(`{"test": 2432232314}`)
	sig := webhook.Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
	require.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", sig)
	now := time.Unix(1614265330, 0).Add(time.Minute)
	require.NoError(t, webhook.Verify(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", "v1,bm9wZQ== "+sig, body, now, 5*time.Minute))
	require.ErrorIs(t, webhook.Verify(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", sig, []byte(`{"test": 1}`), now, 5*time.Minute), webhook.ErrBadSignature)
	require.ErrorIs(t, webhook.Verify(key, "msg_other", "1614265330", sig, body, now, 5*time.Minute), webhook.ErrBadSignature)
	require.ErrorIs(t, webhook.Verify(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", sig, body, now.Add(time.Hour), 5*time.Minute), webhook.ErrStale)
	require.Equal(t, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", key.String())
	for _, bad := range []string{"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!", "whsec_" + base64.StdEncoding.EncodeToString([]byte("short"))} {
		_, err := webhook.ParseSecret(bad)
		require.ErrorIs(t, err, webhook.ErrBadSecret, bad)
	}
}

func TestPolicy(t *testing.T) {
	t.Parallel()
	var p webhook.Policy
	for _, a := range []string{"127.0.0.1", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "fe80::1",
		"fc00::1", "0.0.0.0", "::", "100.64.0.1", "224.0.0.1", "255.255.255.255", "::ffff:127.0.0.1", "::ffff:10.0.0.1"} {
		require.ErrorIs(t, p.Check(netip.MustParseAddr(a)), webhook.ErrForbiddenTarget, a)
	}
	for _, a := range []string{"8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "93.184.216.34"} {
		require.NoError(t, p.Check(netip.MustParseAddr(a)), a)
	}
	allow, err := webhook.ParseAllow("127.0.0.0/8, ::1 ,10.0.0.0/8")
	require.NoError(t, err)
	p.Allow = allow
	for _, a := range []string{"127.0.0.1", "::1", "10.9.9.9", "::ffff:127.0.0.1"} {
		require.NoError(t, p.Check(netip.MustParseAddr(a)), a)
	}
	require.ErrorIs(t, p.Check(netip.MustParseAddr("169.254.169.254")), webhook.ErrForbiddenTarget)
	_, err = webhook.ParseAllow("localhost")
	require.Error(t, err)
}

// receiver is a real HTTP server that checks every request as a third
// party would (its own HMAC code, not webhook.Verify) and answers the first
// fail attempts of each webhook-id with 500.
type receiver struct {
	t    *testing.T
	key  []byte
	fail int
	srv  *httptest.Server
	mu   sync.Mutex
	seen map[string][]string // webhook-id → bodies of every attempt
	ok   chan string         // ids answered 2xx
}

func newReceiver(t *testing.T, key webhook.Secret, fail int) *receiver {
	r := &receiver{t: t, key: key, fail: fail, seen: map[string][]string{}, ok: make(chan string, 100)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id, ts, sig := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature")
	mac := hmac.New(sha256.New, r.key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); sig != want {
		r.t.Errorf("bad signature for %s: %q, want %q", id, sig, want)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	r.mu.Lock()
	r.seen[id] = append(r.seen[id], string(body))
	n := len(r.seen[id])
	r.mu.Unlock()
	if n <= r.fail {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
	r.ok <- id
}

func (r *receiver) attempts(id string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen[id]...)
}

type bundle struct {
	ctx    context.Context
	env    *testkit.NATSEnv
	qcfg   queue.Config
	outbox *webhook.Outbox
	key    webhook.Secret
}

func setup(t *testing.T) *bundle { return setupB(t) }

func setupB(t testing.TB) *bundle {
	t.Helper()
	env := testkit.NATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	qcfg := queue.Config{}.WithDefaults()
	require.NoError(t, queue.Provision(ctx, env.JS, qcfg))
	key, err := webhook.ParseSecret("whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")))
	require.NoError(t, err)
	return &bundle{ctx: ctx, env: env, qcfg: qcfg, outbox: webhook.NewOutbox(env.JS, qcfg, nil, nil), key: key}
}

func (b *bundle) run(t *testing.T, cfg webhook.DispatcherConfig) {
	t.Helper()
	if cfg.Retry == nil {
		cfg.Retry = func(int) time.Duration { return 20 * time.Millisecond }
	}
	if cfg.Secrets == nil {
		cfg.Secrets = map[string]webhook.Secret{"acme": b.key}
	}
	d, err := webhook.NewDispatcher(b.ctx, b.env.JS, b.qcfg, cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(b.ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func message(url string, events ...string) *job.Message {
	return &job.Message{Options: job.Options{Webhook: &job.Webhook{URL: url, Events: events}}}
}

func record(t *testing.T, st status.State, rev int64) status.Record {
	id, err := job.NewID()
	require.NoError(t, err)
	return status.Record{ID: id, Tenant: "acme", State: st, Revision: rev, UpdatedAt: time.Now().UTC()}
}

// results counts Observe calls by result.
type results struct {
	mu sync.Mutex
	n  map[string]int
}

func (r *results) observe(result string, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[string]int{}
	}
	r.n[result]++
}

func (r *results) get() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for k, v := range r.n {
		out[k] = v
	}
	return out
}

// waitDone waits until the outbox stream has stored stored deliveries in
// all (Notify does not wait for that) and holds none of them any more
// (delivered or given up).
func (b *bundle) waitDone(t *testing.T, stored uint64) {
	t.Helper()
	require.Eventually(t, func() bool {
		s, err := b.env.JS.Stream(b.ctx, b.qcfg.WebhookStream)
		if err != nil {
			return false
		}
		info, err := s.Info(b.ctx)
		return err == nil && info.State.LastSeq >= stored && info.State.Msgs == 0
	}, 20*time.Second, 10*time.Millisecond)
}

func allow(t *testing.T) webhook.Policy {
	a, err := webhook.ParseAllow("127.0.0.0/8,::1")
	require.NoError(t, err)
	return webhook.Policy{Allow: a}
}

func TestDispatcherRetriesWithSameIDAndBody(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rcv := newReceiver(t, b.key, 2)
	b.run(t, webhook.DispatcherConfig{Policy: allow(t)})
	rec := record(t, status.StateFailed, 3)
	rec.ErrorCode = "image_undecodable"
	b.outbox.Notify(b.ctx, job.EventFailed, message(rcv.srv.URL+"/hook"), rec)
	// Not asked for: never sent.
	b.outbox.Notify(b.ctx, job.EventStarted, message(rcv.srv.URL+"/hook"), record(t, status.StateRunning, 2))
	id := <-rcv.ok
	require.Equal(t, webhook.ID(rec), id)
	got := rcv.attempts(id)
	require.Len(t, got, 3, "two 500s, then the 2xx")
	for _, body := range got[1:] {
		require.Equal(t, got[0], body, "a retry must carry the same body")
	}
	var p webhook.Payload
	require.NoError(t, json.Unmarshal([]byte(got[0]), &p))
	require.Equal(t, "job.failed", p.Type)
	require.Equal(t, rec.ID, p.Data.ID)
	require.Equal(t, "image_undecodable", p.Data.ErrorCode)
	b.waitDone(t, 1)
	// The same transition announced again (a duplicate delivery) keeps
	// its ID, so the stream stores it once.
	again, err := b.outbox.Message(b.ctx, job.EventFailed, rcv.srv.URL+"/hook", rec)
	require.NoError(t, err)
	ack, err := b.env.JS.PublishMsg(b.ctx, again, jetstream.WithMsgID(webhook.ID(rec)))
	require.NoError(t, err)
	require.True(t, ack.Duplicate)
	b.waitDone(t, 1)
	require.Len(t, rcv.attempts(id), 3)
}

func TestDispatcherRefusesPrivateTargets(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rcv := newReceiver(t, b.key, 0)
	var res results
	b.run(t, webhook.DispatcherConfig{Observe: res.observe}) // default policy: loopback refused
	for _, u := range []string{rcv.srv.URL, strings.Replace(rcv.srv.URL, "127.0.0.1", "localhost", 1)} {
		b.outbox.Notify(b.ctx, job.EventSucceeded, message(u+"/h"), record(t, status.StateSucceeded, 5))
	}
	b.waitDone(t, 2)
	require.Equal(t, map[string]int{webhook.ResultRefused: 2}, res.get())
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	require.Empty(t, rcv.seen, "a refused target must never be called")
}

func TestDispatcherGivesUpAfterRetryWindow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rcv := newReceiver(t, b.key, 1<<30) // always 500
	var res results
	b.run(t, webhook.DispatcherConfig{Policy: allow(t), RetryFor: 400 * time.Millisecond,
		Retry: func(int) time.Duration { return 50 * time.Millisecond }, Observe: res.observe})
	rec := record(t, status.StateCanceled, 4)
	b.outbox.Notify(b.ctx, job.EventCanceled, message(rcv.srv.URL), rec)
	b.waitDone(t, 1)
	n := len(rcv.attempts(webhook.ID(rec)))
	require.GreaterOrEqual(t, n, 2, "retried")
	require.LessOrEqual(t, n, 12, "bounded by the retry window")
	got := res.get()
	require.Equal(t, 1, got[webhook.ResultExpired])
	require.Equal(t, n, got[webhook.ResultRetried])
}

func TestDispatcherNeedsTenantSecret(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rcv := newReceiver(t, b.key, 0)
	var res results
	b.run(t, webhook.DispatcherConfig{Policy: allow(t), Secrets: map[string]webhook.Secret{"other": b.key}, Observe: res.observe})
	b.outbox.Notify(b.ctx, job.EventSucceeded, message(rcv.srv.URL), record(t, status.StateSucceeded, 5))
	b.waitDone(t, 1)
	require.Equal(t, map[string]int{webhook.ResultDropped: 1}, res.get())
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	require.Empty(t, rcv.seen)
}

func TestNewDispatcherValidates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := webhook.NewDispatcher(b.ctx, b.env.JS, b.qcfg, webhook.DispatcherConfig{Timeout: time.Hour})
	require.ErrorIs(t, err, webhook.ErrInvalidConfig)
	require.ErrorContains(t, err, "Retry is required")
	require.ErrorContains(t, err, "Timeout")
}
