package fleet

import (
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/queue"
	"github.com/facefleet/facefleet/shared/status"
)

// rawPublish uploads image under the tenant's input prefix and publishes
// body (with {ID} and {KEY} replaced) with a plain core NATS publish, as a
// third party would: no status record, no project publish code.
func (b *testBundle) rawPublish(t *testing.T, image []byte, body string) (id, key string) {
	t.Helper()
	id, err := job.NewID()
	require.NoError(t, err)
	key, err = b.store.PutInput(b.ctx, "acme", id, "photo.jpg", strings.NewReader(string(image)), int64(len(image)), "")
	require.NoError(t, err)
	body = strings.NewReplacer("{ID}", id, "{KEY}", key, "{BUCKET}", b.bucket).Replace(body)
	require.NoError(t, b.nats.Conn.Publish(b.qcfg.Subject(job.PriorityNormal), []byte(body)))
	require.NoError(t, b.nats.Conn.Flush())
	return id, key
}

func TestWorkerRawPublishCreatesRecord(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{})
	var calls atomic.Int32
	b.start(t, stagedProcessor(&calls, nil))
	const tmpl = `{"version":1,"id":"{ID}","tenant":"acme","input":{"bucket":"{BUCKET}","key":"{KEY}"},` +
		`"options":{"geometry":true},"submitted_at":"2026-01-02T03:04:05Z"}`
	id, key := b.rawPublish(t, []byte("raw-image"), tmpl)
	r := b.waitState(t, id, isState(status.StateSucceeded))
	require.Equal(t, "acme", r.Tenant)
	require.Equal(t, key, r.Input)
	require.Equal(t, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), r.CreatedAt.UTC())
	var opts job.Options
	require.NoError(t, json.Unmarshal(r.Options, &opts))
	require.Equal(t, job.Options{Geometry: true, UVSize: job.DefaultUVSize, Detector: job.DefaultDetector,
		MaxFaces: job.DefaultMaxFaces}, opts, "omitted options take the defaults")
	require.Equal(t, []string{"results/" + id + "/result.json"}, r.Outputs)
	require.Equal(t, 1, r.Attempts)
	b.waitIdle(t)

	// A duplicate delivery of the finished job (published again, past any
	// de-duplication) is acked without work and changes nothing.
	body := strings.NewReplacer("{ID}", id, "{KEY}", key, "{BUCKET}", b.bucket).Replace(tmpl)
	require.NoError(t, b.nats.Conn.Publish(b.qcfg.Subject(job.PriorityNormal), []byte(body)))
	b.waitAcked(t, 2)
	again, err := b.status.Get(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, r.Revision, again.Revision, "a stale delivery moved the record")
	require.Equal(t, status.StateSucceeded, again.State)
	require.EqualValues(t, 1, calls.Load())
	require.Zero(t, b.deadLetters(t))
}

// waitAcked waits until n messages in all have been acknowledged (or
// terminated) on the priority consumers.
func (b *testBundle) waitAcked(t *testing.T, n uint64) {
	t.Helper()
	require.Eventually(t, func() bool {
		var acked uint64
		for _, p := range job.Priorities() {
			c, err := b.nats.JS.Consumer(b.ctx, b.qcfg.Stream, queue.ConsumerName(p))
			if err != nil {
				return false
			}
			info, err := c.Info(b.ctx)
			if err != nil {
				return false
			}
			acked += info.AckFloor.Consumer
		}
		return acked >= n
	}, waitLong, 10*time.Millisecond)
}
