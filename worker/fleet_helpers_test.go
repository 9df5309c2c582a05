package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/devservers"
	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/queue"
	"github.com/facefleet/facefleet/shared/status"
	"github.com/facefleet/facefleet/shared/storage"
	"github.com/facefleet/facefleet/shared/testkit"
)

// fleetEnv is a private NATS, Redis and S3 for one `worker run` test, with
// the clients a producer would use.
type fleetEnv struct {
	nats   *testkit.NATSEnv
	redis  *testkit.RedisEnv
	s3     *testkit.S3Env
	qcfg   queue.Config
	q      *queue.Queue
	status *status.Store
	store  *storage.Store
}

func newFleetEnv(t *testing.T, ackWait time.Duration) *fleetEnv {
	t.Helper()
	e := &fleetEnv{nats: testkit.NATS(t), redis: testkit.Redis(t), s3: testkit.S3(t)}
	e.qcfg = queue.Config{Stream: "FACEFLEET_JOBS", AckWait: ackWait, MaxDeliver: 3}
	require.NoError(t, queue.Provision(t.Context(), e.nats.JS, e.qcfg))
	var err error
	e.q, err = queue.New(e.nats.JS, e.qcfg)
	require.NoError(t, err)
	e.status = status.New(e.redis.Client, status.Config{})
	e.store = testkit.Store(t, e.s3)
	return e
}

// args are the `worker run` flags that point a worker at this environment,
// serving health on httpAddr.
func (e *fleetEnv) args(t *testing.T, httpAddr, name string) []string {
	t.Helper()
	return []string{
		"--nats-url", e.nats.URL, "--nats-stream", e.qcfg.Stream,
		"--redis-addr", e.redis.Addr,
		"--s3-endpoint", e.s3.Endpoint, "--s3-access-key", e.s3.AccessKey, "--s3-secret-key", e.s3.SecretKey,
		"--s3-bucket", e.s3.Bucket, "--s3-region", e.s3.Region,
		"--ack-wait", e.qcfg.AckWait.String(), "--max-deliver", strconv.Itoa(e.qcfg.MaxDeliver),
		"--drain-timeout", "10s", "--http-addr", httpAddr, "--worker-name", name,
		"--ort-lib", ortLib(t), "--intra-op-threads", "1", "--devices", "cpu",
	}
}

// submit uploads the image, creates the queued record and publishes the job,
// as the producer does (testkit.Producer.Submit).
func (e *fleetEnv) submit(t *testing.T, img []byte, opts job.Options) string {
	t.Helper()
	return testkit.Producer{Store: e.store, Status: e.status, Queue: e.q}.Submit(t.Context(), t, img, opts)
}

// waitRecord polls the job's record until cond holds.
func (e *fleetEnv) waitRecord(t *testing.T, id string, timeout time.Duration, cond func(status.Record) bool) status.Record {
	t.Helper()
	var last status.Record
	require.Eventually(t, func() bool {
		r, err := e.status.Get(context.Background(), id)
		last = r
		return err == nil && cond(r)
	}, timeout, 5*time.Millisecond, "job %s: last record %+v", id, last)
	return last
}

// freeAddr returns a free 127.0.0.1:port.
func freeAddr(t *testing.T) string {
	t.Helper()
	p, err := devservers.FreePort()
	require.NoError(t, err)
	return fmt.Sprintf("127.0.0.1:%d", p)
}

// httpGet returns the status code and body of GET url ("" and 0 on error).
func httpGet(url string) (int, string) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func fleetPhoto(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("internal", "fleet", "testdata", name))
	require.NoError(t, err)
	return b
}
