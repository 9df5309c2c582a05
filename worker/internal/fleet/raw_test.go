package fleet

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/errcode"
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
	require.Equal(t, job.Options{Geometry: true, UVSize: job.DefaultUVSize, UVFormat: job.DefaultUVFormat,
		Detector: job.DefaultDetector, MaxFaces: job.DefaultMaxFaces}, opts, "omitted options take the defaults")
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

// The malformed-message corpus: every message the worker refuses is kept in
// the dead-letter stream with its reason, headers and delivery count, and
// where the message carries a well-formed job ID its record says failed.
func TestWorkerRejectedMessagesAreKept(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{})
	var calls atomic.Int32
	b.start(t, stagedProcessor(&calls, nil))
	newID := func() string {
		id, err := job.NewID()
		require.NoError(t, err)
		return id
	}
	valid := func(id string) string {
		return `{"version":1,"id":"` + id + `","tenant":"acme","input":{"bucket":"` + b.bucket +
			`","key":"inputs/acme/` + id + `/photo.jpg"},"submitted_at":"2026-01-02T03:04:05Z"}`
	}
	garbage := make([]byte, 60<<10)
	for i := range garbage {
		garbage[i] = byte('!' + i%90)
	}
	idVersion, idKey, idField, idOwned, idBucket, idTenant := newID(), newID(), newID(), newID(), newID(), newID()
	// A queued record of this tenant whose message then arrives broken.
	_, _, err := b.status.Create(b.ctx, status.Record{ID: idOwned, Tenant: "acme", Input: "inputs/acme/" + idOwned + "/p.jpg"})
	require.NoError(t, err)
	cases := []struct {
		name string
		data []byte
		id   string // "" = no usable ID: no record
	}{
		{"not json", []byte("this is not json {"), ""},
		{"garbage 60 KB", garbage, ""},
		{"unknown version", []byte(strings.Replace(valid(idVersion), `"version":1`, `"version":2`, 1)), idVersion},
		{"key with ..", []byte(strings.Replace(valid(idKey), `/photo.jpg`, `/../../etc/passwd`, 1)), idKey},
		{"invalid field", []byte(strings.Replace(valid(idField), `"tenant":"acme"`, `"tenant":"acme","options":{"uv_size":99999}`, 1)), idField},
		{"unknown field, existing record", []byte(strings.Replace(valid(idOwned), `"version":1`, `"version":1,"colour":"red"`, 1)), idOwned},
		{"other bucket", []byte(strings.Replace(valid(idBucket), `"bucket":"`+b.bucket+`"`, `"bucket":"someone-elses"`, 1)), idBucket},
		{"other tenant's input", []byte(strings.Replace(valid(idTenant), `/acme/`, `/globex/`, 1)), idTenant},
		{"id not a UUIDv7", []byte(strings.Replace(valid(idVersion), idVersion, "job-1", -1)), ""},
	}
	subject := b.qcfg.Subject(job.PriorityNormal)
	for i, c := range cases {
		msg := &nats.Msg{Subject: subject, Data: c.data, Header: nats.Header{"X-Sender": []string{c.name}}}
		msg.Header.Set("Nats-Msg-Id", "corpus-"+strconv.Itoa(i))
		require.NoError(t, b.nats.Conn.PublishMsg(msg), c.name)
	}
	require.NoError(t, b.nats.Conn.Flush())
	b.waitAcked(t, uint64(len(cases)))
	require.Zero(t, calls.Load(), "nothing refused may run")
	require.Zero(t, b.redelivered(t), "a refused message is never retried")

	dls, err := b.q.DeadLetters(b.ctx, 0, 100)
	require.NoError(t, err)
	require.Len(t, dls, len(cases), "one dead letter per refused message")
	bySender := map[string]queue.DeadLetter{}
	for _, d := range dls {
		bySender[d.Header.Get("X-Sender")] = d
	}
	for i, c := range cases {
		d, ok := bySender[c.name]
		require.True(t, ok, "no dead letter for %s", c.name)
		require.Equal(t, c.data, d.Data, c.name)
		require.Equal(t, errcode.InvalidJob.String(), d.Code, c.name)
		require.NotEmpty(t, d.Reason, c.name)
		require.EqualValues(t, 1, d.Deliveries, c.name)
		require.Equal(t, subject, d.Subject, c.name)
		require.Equal(t, c.id, d.JobID, c.name)
		require.Equal(t, "corpus-"+strconv.Itoa(i), d.Header.Get(queue.HeaderDLQMsgID), c.name)
		if c.id == "" {
			continue
		}
		r, err := b.status.Get(b.ctx, c.id)
		require.NoError(t, err, c.name)
		require.Equal(t, status.StateFailed, r.State, c.name)
		require.Equal(t, errcode.InvalidJob.String(), r.ErrorCode, c.name)
		require.Equal(t, "acme", r.Tenant, c.name)
		require.NotEmpty(t, r.ErrorMessage, c.name)
	}
	r, err := b.status.Get(b.ctx, idKey)
	require.NoError(t, err)
	require.Empty(t, r.Input, "an unsafe key is not stored in the record")
	require.Contains(t, r.ErrorMessage, "input.key")
	t.Logf("reason for the 60 KB message: %s", bySender["garbage 60 KB"].Reason)
}

// A valid message that reuses another tenant's job ID never runs on that
// job's record: it is refused and kept, the record stays as it was.
func TestWorkerRefusesOtherTenantsJobID(t *testing.T) {
	t.Parallel()
	b := setup(t, queue.Config{})
	var calls atomic.Int32
	b.start(t, stagedProcessor(&calls, nil))
	id, err := job.NewID()
	require.NoError(t, err)
	victim, _, err := b.status.Create(b.ctx, status.Record{ID: id, Tenant: "globex", Input: "inputs/globex/" + id + "/p.jpg"})
	require.NoError(t, err)
	key, err := b.store.PutInput(b.ctx, "acme", id, "photo.jpg", strings.NewReader("x"), 1, "")
	require.NoError(t, err)
	body := `{"version":1,"id":"` + id + `","tenant":"acme","input":{"bucket":"` + b.bucket + `","key":"` + key +
		`"},"submitted_at":"2026-01-02T03:04:05Z"}`
	require.NoError(t, b.nats.Conn.Publish(b.qcfg.Subject(job.PriorityNormal), []byte(body)))
	b.waitAcked(t, 1)
	require.Zero(t, calls.Load())
	got, err := b.status.Get(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, victim, got, "the other tenant's record changed")
	dls, err := b.q.DeadLetters(b.ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, dls, 1)
	require.Equal(t, errcode.InvalidJob.String(), dls[0].Code)
	require.Contains(t, dls[0].Reason, "another tenant")
}
