package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/producer/client"
	"github.com/facefleet/facefleet/producer/internal/testenv"
	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/queue"
	"github.com/facefleet/facefleet/shared/status"
)

type bundle struct {
	env *testenv.Env
	c   *client.Client
	ctx context.Context
}

func setup(t *testing.T) *bundle {
	t.Helper()
	env := testenv.New(t)
	ctx := testenv.Context(t, 30*time.Second)
	c, err := client.New(ctx, env.Config, client.WithLogger(testenv.Logger(t)))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return &bundle{env: env, c: c, ctx: ctx}
}

// fetchOne pulls the next job message of priority p from the stream, as a worker would.
func fetchOne(t *testing.T, b *bundle, p job.Priority) jetstream.Msg {
	t.Helper()
	cons, err := b.env.NATS.JS.Consumer(b.ctx, b.env.Config.NATSStream, queue.ConsumerName(p))
	require.NoError(t, err)
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	require.NoError(t, err)
	for m := range batch.Messages() {
		return m
	}
	t.Fatalf("no message on %s", p)
	return nil
}

func TestSubmitUploadsRecordsAndPublishes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	img := testenv.FaceJPEG(t)
	rec, err := b.c.Submit(b.ctx, client.SubmitRequest{
		Image: bytes.NewReader(img), Filename: "../../My Photo!.JPG",
		Options: job.Options{Geometry: true, UVSize: 512}, Priority: job.PriorityHigh,
	})
	require.NoError(t, err)
	require.Equal(t, status.StateQueued, rec.State)
	require.Equal(t, "local", rec.Tenant)
	require.Equal(t, "inputs/"+rec.Tenant+"/"+rec.ID+"/My_Photo_.jpg", rec.Input)
	require.JSONEq(t, `{"geometry":true,"head":false,"uv_size":512,"uv_format":"png","detector":"short","max_faces":16}`, string(rec.Options))

	// The input is in S3, byte for byte, with the sniffed type.
	obj, err := b.env.S3.Client.GetObject(b.ctx, b.env.S3.Bucket, rec.Input, minio.GetObjectOptions{})
	require.NoError(t, err)
	defer obj.Close() // an open object keeps a minio goroutine (TestMain's goleak)
	got, err := io.ReadAll(obj)
	require.NoError(t, err)
	require.Equal(t, img, got)
	info, err := obj.Stat()
	require.NoError(t, err)
	require.Equal(t, "image/jpeg", info.ContentType)

	// The message is on the high-priority subject with Nats-Msg-Id = job ID.
	m := fetchOne(t, b, job.PriorityHigh)
	require.Equal(t, rec.ID, m.Headers().Get("Nats-Msg-Id"))
	msg, err := job.Decode(m.Data())
	require.NoError(t, err)
	require.Equal(t, rec.ID, msg.ID)
	require.Equal(t, rec.Input, msg.Input.Key)
	require.Equal(t, b.env.S3.Bucket, msg.Input.Bucket)
	require.True(t, msg.Options.Geometry)
	require.NoError(t, m.Ack())

	// Get sees the same record.
	again, err := b.c.Get(b.ctx, rec.ID)
	require.NoError(t, err)
	require.Equal(t, rec.ID, again.ID)
	require.Equal(t, status.StateQueued, again.State)
}

func TestSubmitRejects(t *testing.T) {
	t.Parallel()
	b := setup(t)
	img := testenv.FaceJPEG(t)
	cases := map[string]struct {
		req  client.SubmitRequest
		err  error
		code string
	}{
		"nothing":        {client.SubmitRequest{}, client.ErrInvalidRequest, "bad_request"},
		"both":           {client.SubmitRequest{Image: bytes.NewReader(img), InputKey: "inputs/local/a.jpg"}, client.ErrInvalidRequest, "bad_request"},
		"bad options":    {client.SubmitRequest{Image: bytes.NewReader(img), Options: job.Options{UVSize: 100, Detector: "far"}}, client.ErrInvalidOptions, "invalid_options"},
		"bad priority":   {client.SubmitRequest{Image: bytes.NewReader(img), Priority: "urgent"}, client.ErrInvalidRequest, "bad_request"},
		"bad tenant":     {client.SubmitRequest{Tenant: "a/b", Image: bytes.NewReader(img)}, client.ErrInvalidRequest, "bad_request"},
		"not an image":   {client.SubmitRequest{Image: strings.NewReader("hello, I am text")}, client.ErrUnsupportedImage, "image_unsupported_format"},
		"empty":          {client.SubmitRequest{Image: strings.NewReader("")}, client.ErrUnsupportedImage, "image_empty"},
		"other's key":    {client.SubmitRequest{InputKey: "inputs/other/a.jpg"}, client.ErrInvalidRequest, "invalid_input"},
		"escaping key":   {client.SubmitRequest{InputKey: "inputs/local/../other/a.jpg"}, client.ErrInvalidRequest, "invalid_input"},
		"missing object": {client.SubmitRequest{InputKey: "inputs/local/none.jpg"}, client.ErrInputNotFound, "input_not_found"},
	}
	for name, tc := range cases {
		_, err := b.c.Submit(b.ctx, tc.req)
		require.ErrorIs(t, err, tc.err, name)
		var coded interface{ Code() string }
		require.ErrorAs(t, err, &coded, name)
		require.Equal(t, tc.code, coded.Code(), name)
	}
	_, err := b.c.Submit(b.ctx, client.SubmitRequest{Image: bytes.NewReader(img), Options: job.Options{MaxFaces: 99}})
	require.ErrorIs(t, err, job.ErrInvalid, "option errors keep the job package's sentinel")

	// Nothing was queued by the rejected requests.
	info, err := b.env.NATS.JS.Stream(b.ctx, b.env.Config.NATSStream)
	require.NoError(t, err)
	si, err := info.Info(b.ctx)
	require.NoError(t, err)
	require.Zero(t, si.State.Msgs)
}

func TestSubmitTooLarge(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := testenv.Context(t, 30*time.Second)
	cfg := env.Config
	img := testenv.FaceJPEG(t)
	cfg.MaxUploadBytes = int64(len(img)) - 1
	c, err := client.New(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	_, err = c.Submit(ctx, client.SubmitRequest{Image: bytes.NewReader(img)})
	require.ErrorIs(t, err, client.ErrTooLarge)

	cfg.MaxUploadBytes = int64(len(img))
	c2, err := client.New(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(c2.Close)
	_, err = c2.Submit(ctx, client.SubmitRequest{Image: bytes.NewReader(img)})
	require.NoError(t, err, "exactly the limit is accepted")
}

func TestSubmitExistingKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	img := testenv.FaceJPEG(t)
	key := client.TenantInputPrefix("local") + "batch/face.jpg"
	_, err := b.env.S3.Client.PutObject(b.ctx, b.env.S3.Bucket, key, bytes.NewReader(img), int64(len(img)), minio.PutObjectOptions{})
	require.NoError(t, err)
	rec, err := b.c.Submit(b.ctx, client.SubmitRequest{InputKey: key})
	require.NoError(t, err)
	require.Equal(t, key, rec.Input)
	m := fetchOne(t, b, job.PriorityNormal)
	msg, err := job.Decode(m.Data())
	require.NoError(t, err)
	require.Equal(t, key, msg.Input.Key)
}

func TestWatchWaitAndResults(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec, err := b.c.Submit(b.ctx, client.SubmitRequest{Image: bytes.NewReader(testenv.FaceJPEG(t))})
	require.NoError(t, err)
	ch, err := b.c.Watch(b.ctx, rec.ID)
	require.NoError(t, err)
	waited := make(chan status.Record, 1)
	go func() {
		r, err := b.c.Wait(b.ctx, rec.ID)
		if err == nil {
			waited <- r
		}
		close(waited)
	}()
	next := func() status.Record {
		select {
		case r, ok := <-ch:
			require.True(t, ok, "watch closed early")
			return r
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
		}
		return status.Record{}
	}
	require.Equal(t, status.StateQueued, next().State)

	// Drive the states as the worker would, with real result objects.
	st := b.c.Status()
	_, err = st.Start(b.ctx, rec.ID, "w1", "cpu", 1)
	require.NoError(t, err)
	require.Equal(t, status.StateRunning, next().State)
	_, err = st.Progress(b.ctx, rec.ID, "texture", 60)
	require.NoError(t, err)
	r := next()
	require.Equal(t, "texture", r.Stage)
	require.Equal(t, 60, r.Percent)
	outputs := []string{"results/" + rec.ID + "/result.json", "results/" + rec.ID + "/face-0/uv_texture.png"}
	for i, k := range outputs {
		body := []byte(`{"n":` + string(rune('0'+i)) + `}`)
		require.NoError(t, b.c.Storage().PutBytes(b.ctx, k, body, ""))
	}
	_, err = st.Succeed(b.ctx, rec.ID, outputs, map[string]float64{"decode": 1.5})
	require.NoError(t, err)
	final := next()
	require.Equal(t, status.StateSucceeded, final.State)
	_, open := <-ch
	require.False(t, open, "watch ends at the terminal state")

	select {
	case w := <-waited:
		require.Equal(t, status.StateSucceeded, w.State)
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return")
	}

	files, err := b.c.ResultURLs(b.ctx, final)
	require.NoError(t, err)
	require.Len(t, files, 2)
	require.Equal(t, "result.json", files[0].Name)
	require.Equal(t, "face-0/uv_texture.png", files[1].Name)
	resp, err := http.Get(files[0].URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Equal(t, `{"n":0}`, string(body))

	running, err := b.c.ResultURLs(b.ctx, status.Record{ID: rec.ID, State: status.StateRunning})
	require.NoError(t, err)
	require.Empty(t, running)
}

func TestCancel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	img := testenv.FaceJPEG(t)
	queued, err := b.c.Submit(b.ctx, client.SubmitRequest{Image: bytes.NewReader(img)})
	require.NoError(t, err)
	rec, err := b.c.Cancel(b.ctx, queued.ID)
	require.NoError(t, err)
	require.Equal(t, status.StateCanceled, rec.State)

	running, err := b.c.Submit(b.ctx, client.SubmitRequest{Image: bytes.NewReader(img)})
	require.NoError(t, err)
	_, err = b.c.Status().Start(b.ctx, running.ID, "w1", "cpu", 1)
	require.NoError(t, err)
	rec, err = b.c.Cancel(b.ctx, running.ID)
	require.NoError(t, err)
	require.Equal(t, status.StateRunning, rec.State)
	require.True(t, rec.CancelRequested)

	_, err = b.c.Cancel(b.ctx, queued.ID)
	require.ErrorIs(t, err, client.ErrFinished)
	require.ErrorIs(t, err, status.ErrTerminal)

	_, err = b.c.Cancel(b.ctx, "0190a0a0-0000-7000-8000-000000000000")
	require.ErrorIs(t, err, client.ErrNotFound)
	_, err = b.c.Get(b.ctx, "0190a0a0-0000-7000-8000-000000000000")
	require.ErrorIs(t, err, client.ErrNotFound)
	_, err = b.c.Watch(b.ctx, "0190a0a0-0000-7000-8000-000000000000")
	require.ErrorIs(t, err, client.ErrNotFound)
}

func TestWaitHonoursContext(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec, err := b.c.Submit(b.ctx, client.SubmitRequest{Image: bytes.NewReader(testenv.FaceJPEG(t))})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(b.ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = b.c.Wait(ctx, rec.ID)
	require.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	require.Less(t, time.Since(start), 5*time.Second, "Wait returns soon after its context ends")
}

func TestReady(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.Nil(t, b.c.Ready(b.ctx))
	b.env.Redis.Server.Stop()
	problems := b.c.Ready(b.ctx)
	require.Contains(t, problems, "redis")
	require.NotContains(t, problems, "nats")
}

// BenchmarkSubmit measures one Submit (sniff, S3 upload of a 64 KB JPEG,
// Redis record, JetStream publish) against the real servers.
func BenchmarkSubmit(b *testing.B) {
	env := testenv.New(b)
	ctx := testenv.Context(b, 5*time.Minute)
	c, err := client.New(ctx, env.Config)
	require.NoError(b, err)
	b.Cleanup(c.Close)
	img := testenv.FaceJPEG(b)
	b.SetBytes(int64(len(img)))
	for b.Loop() {
		if _, err := c.Submit(ctx, client.SubmitRequest{Image: bytes.NewReader(img), Filename: "face.jpg"}); err != nil {
			b.Fatal(err)
		}
	}
}
