package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/producer/internal/testenv"
	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/queue"
	"github.com/facefleet/facefleet/shared/status"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type bundle struct {
	env   *testenv.Env
	ctx   context.Context
	flags []string
	st    *status.Store
}

func setup(t *testing.T) *bundle {
	t.Helper()
	env := testenv.New(t)
	cfg := env.Config
	ctx := testenv.Context(t, 60*time.Second)
	// The workers provision the stream; do it here as they would.
	require.NoError(t, queue.Provision(ctx, env.NATS.JS, queue.Config{Stream: cfg.NATSStream}))
	return &bundle{
		env: env,
		ctx: ctx,
		flags: []string{"--nats-url", cfg.NATSURL, "--redis-addr", cfg.RedisAddr, "--s3-endpoint", cfg.S3Endpoint,
			"--s3-access-key", cfg.S3AccessKey, "--s3-secret-key", cfg.S3SecretKey, "--s3-bucket", cfg.S3Bucket,
			"--log-level", "warn"},
		st: status.New(env.Redis.Client, status.Config{}),
	}
}

func (b *bundle) args(cmd string, rest ...string) []string {
	return append(append([]string{cmd}, b.flags...), rest...)
}

// takeJob pulls the next normal-priority job message, as a worker would.
func (b *bundle) takeJob(t *testing.T) *job.Message {
	t.Helper()
	cons, err := b.env.NATS.JS.Consumer(b.ctx, b.env.Config.NATSStream, queue.ConsumerName(job.PriorityNormal))
	require.NoError(t, err)
	for b.ctx.Err() == nil {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
		require.NoError(t, err)
		for m := range batch.Messages() {
			msg, err := job.Decode(m.Data())
			require.NoError(t, err)
			require.NoError(t, m.Ack())
			return msg
		}
	}
	t.Fatal("no job message")
	return nil
}

// work plays the worker's part on the status store and S3 for msg.
func (b *bundle) work(t *testing.T, msg *job.Message, succeed bool) []string {
	t.Helper()
	// The producer publishes before it writes the record; a real worker
	// would create a missing one, this one waits for the producer's.
	require.Eventually(t, func() bool { _, err := b.st.Get(b.ctx, msg.ID); return err == nil }, 10*time.Second, 5*time.Millisecond)
	_, err := b.st.Start(b.ctx, msg.ID, "test-worker", "cpu", 1)
	require.NoError(t, err)
	_, err = b.st.Progress(b.ctx, msg.ID, "landmarks", 40)
	require.NoError(t, err)
	if !succeed {
		_, err = b.st.Fail(b.ctx, msg.ID, "image_undecodable", "not an image")
		require.NoError(t, err)
		return nil
	}
	var keys []string
	for _, rel := range []string{"result.json", "face-0/uv_texture.png"} {
		key := "results/" + msg.ID + "/" + rel
		_, err := b.env.S3.Client.PutObject(b.ctx, b.env.S3.Bucket, key, strings.NewReader("data:"+rel), int64(len("data:"+rel)), minioPut())
		require.NoError(t, err)
		keys = append(keys, key)
	}
	_, err = b.st.Succeed(b.ctx, msg.ID, keys, map[string]float64{"decode": 2})
	require.NoError(t, err)
	return keys
}

func TestSubmitWaitJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(b.ctx, b.args("submit", "--wait", "--json", testenv.FacePath(t), "--geometry"), &stdout, &stderr)
	}()
	msg := b.takeJob(t)
	require.True(t, msg.Options.Geometry, "flags after the image are parsed")
	keys := b.work(t, msg, true)
	select {
	case err := <-done:
		require.NoError(t, err, stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatal("submit --wait did not return")
	}
	var out struct {
		ID      string `json:"id"`
		State   string `json:"state"`
		Bucket  string `json:"bucket"`
		Image   string `json:"image"`
		Input   string `json:"input"`
		Results []struct{ Name, Key, URL string }
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	require.Len(t, lines, 1, stdout.String())
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &out))
	require.Equal(t, msg.ID, out.ID)
	require.Equal(t, "succeeded", out.State)
	require.Equal(t, b.env.S3.Bucket, out.Bucket)
	require.Equal(t, msg.Input.Key, out.Input)
	require.Len(t, out.Results, 2)
	for i, r := range out.Results {
		require.Equal(t, keys[i], r.Key)
		resp, err := http.Get(r.URL)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, "data:"+r.Name, string(body))
	}
}

func TestSubmitWaitFailedJob(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(b.ctx, b.args("submit", "--wait", testenv.FacePath(t)), &stdout, &stderr) }()
	b.work(t, b.takeJob(t), false)
	select {
	case err := <-done:
		require.ErrorIs(t, err, ErrJobsFailed)
	case <-time.After(20 * time.Second):
		t.Fatal("submit --wait did not return")
	}
	require.Contains(t, stdout.String(), "failed")
	require.Contains(t, stdout.String(), "image_undecodable: not an image")
}

func TestStatusWatchCancel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var out, errb syncBuffer
	require.NoError(t, run(b.ctx, b.args("submit", "--json", testenv.FacePath(t), testenv.FacePath(t)), &out, &errb))
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var rec struct{ ID, State string }
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		require.Equal(t, "queued", rec.State)
		ids = append(ids, rec.ID)
	}
	require.Len(t, ids, 2)

	var st syncBuffer
	require.NoError(t, run(b.ctx, b.args("status", ids[0]), &st, &errb))
	require.Regexp(t, `state:\s+queued`, st.String())
	require.Contains(t, st.String(), ids[0])

	var cancelOut syncBuffer
	require.NoError(t, run(b.ctx, b.args("cancel", "--json", ids[1]), &cancelOut, &errb))
	require.Contains(t, cancelOut.String(), `"state":"canceled"`)
	err := run(b.ctx, b.args("cancel", ids[1]), io.Discard, &errb)
	require.Error(t, err, "cancelling a finished job fails")

	// watch prints each change until the job finishes.
	var watchOut syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(b.ctx, b.args("watch", ids[0]), &watchOut, &errb) }()
	require.Eventually(t, func() bool { return strings.Contains(watchOut.String(), " queued") }, 10*time.Second, 10*time.Millisecond)
	msg := b.takeJob(t)
	require.Equal(t, ids[0], msg.ID)
	b.work(t, msg, true)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("watch did not return")
	}
	var states []string
	sc := bufio.NewScanner(strings.NewReader(watchOut.String()))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 3 && f[1] == ids[0] {
			states = append(states, strings.Join(f[2:], " "))
		}
	}
	require.Equal(t, []string{"queued", "running", "running landmarks 40%", "succeeded"}, states)
	require.Contains(t, watchOut.String(), "face-0/uv_texture.png")

	err = run(b.ctx, b.args("status", "0190a0a0-0000-7000-8000-000000000000"), io.Discard, &errb)
	require.Error(t, err)
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	ctx := testenv.Context(t, 10*time.Second)
	for _, args := range [][]string{
		nil, {"frobnicate"}, {"submit"}, {"submit", "--uv-size", "7", "x.jpg"}, {"submit", "--uv-format", "gif", "x.jpg"}, {"submit", "--priority", "now", "x.jpg"},
		{"status"}, {"status", "a", "b"}, {"serve", "extra"}, {"submit", "--no-such-flag", "x.jpg"},
		{"bench"}, {"healthcheck", "extra"},
	} {
		err := run(ctx, args, io.Discard, io.Discard)
		require.ErrorIs(t, err, ErrUsage, "%q", args)
	}
	var help bytes.Buffer
	require.NoError(t, run(ctx, []string{"help"}, &help, io.Discard))
	require.Contains(t, help.String(), "-nats-url")
	require.Contains(t, help.String(), "FACEFLEET_NATS_URL")
}

func TestServe(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, b.args("serve", "--http-addr", "127.0.0.1:0", "--api-keys", "acme:key-acme-0001"), &stdout, &stderr)
	}()
	var base string
	require.Eventually(t, func() bool {
		s := stdout.String()
		if i := strings.Index(s, "http://"); i >= 0 {
			base = strings.TrimSpace(s[i:])
			return true
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, stderr.String())
		default:
		}
		return false
	}, 10*time.Second, 10*time.Millisecond)
	resp, err := http.Get(base + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = http.Get(base + "/v1/jobs/x")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, err = http.Get(base + "/") // the web console
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(page), "<title>facefleet console</title>")
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}

	err = run(b.ctx, b.args("serve", "--http-addr", "127.0.0.1:0"), io.Discard, io.Discard)
	require.Error(t, err, "serve without keys refuses to start")
	require.False(t, errors.Is(err, context.Canceled))
}
