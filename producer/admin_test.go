package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/queue"
	"github.com/facefleet/facefleet/shared/testkit"
)

func TestProvisionIsIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bucket := testkit.BucketName(t)
	stream := b.env.Config.NATSStream // setup provisioned it already, as a worker would: provision must accept that
	args := b.args("provision", "--s3-bucket", bucket)
	for range 2 {
		var out strings.Builder
		require.NoError(t, run(b.ctx, args, &out, io.Discard))
		require.Contains(t, out.String(), "provisioned: stream "+stream)
	}
	t.Cleanup(func() { _ = b.env.S3.Client.RemoveBucket(t.Context(), bucket) })

	ok, err := b.env.S3.Client.BucketExists(b.ctx, bucket)
	require.NoError(t, err)
	require.True(t, ok, "bucket created")
	s, err := b.env.NATS.JS.Stream(b.ctx, stream)
	require.NoError(t, err)
	for _, p := range job.Priorities() {
		_, err := s.Consumer(b.ctx, queue.ConsumerName(p))
		require.NoError(t, err, "consumer for %s", p)
	}
	_, err = b.env.NATS.JS.Stream(b.ctx, queue.Config{}.WithDefaults().DeadLetterStream)
	require.NoError(t, err, "dead-letter stream")

	require.ErrorIs(t, run(b.ctx, append(args, "extra"), io.Discard, io.Discard), ErrUsage)
}

func TestHealthcheck(t *testing.T) {
	t.Parallel()
	healthy := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" || !healthy {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	addr := strings.TrimPrefix(srv.URL, "http://")
	var out strings.Builder
	require.NoError(t, run(t.Context(), []string{"healthcheck", "--http-addr", addr}, &out, io.Discard))
	require.Equal(t, "ok\n", out.String())

	healthy = false
	require.Error(t, run(t.Context(), []string{"healthcheck", "--http-addr", addr}, io.Discard, io.Discard))
	srv.Close()
	require.Error(t, run(t.Context(), []string{"healthcheck", "--http-addr", addr}, io.Discard, io.Discard), "nothing listening")
}

func TestLocalAddr(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		":8080":          "127.0.0.1:8080",
		"0.0.0.0:9":      "127.0.0.1:9",
		"[::]:8080":      "127.0.0.1:8080",
		"10.1.2.3:8080":  "10.1.2.3:8080",
		"localhost:8080": "localhost:8080",
	} {
		require.Equal(t, want, localAddr(in), in)
	}
}
