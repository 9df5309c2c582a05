package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/queue"
	"github.com/facefleet/facefleet/shared/status"
)

// deadLetter plays the worker's part for a refused message: publish data,
// take it, dead-letter it with the reason, fail its record, terminate it.
func (b *bundle) deadLetter(t *testing.T, data []byte, id string) {
	t.Helper()
	q, err := queue.New(b.env.NATS.JS, queue.Config{Stream: b.env.Config.NATSStream})
	require.NoError(t, err)
	msg := nats.NewMsg(q.Config().Subject(job.PriorityNormal))
	msg.Data = data
	msg.Header.Set("X-Sender", "tests")
	_, err = b.env.NATS.JS.PublishMsg(b.ctx, msg)
	require.NoError(t, err)
	cons, err := b.env.NATS.JS.Consumer(b.ctx, b.env.Config.NATSStream, queue.ConsumerName(job.PriorityNormal))
	require.NoError(t, err)
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	require.NoError(t, err)
	for m := range batch.Messages() {
		require.NoError(t, q.DeadLetter(b.ctx, m, queue.Rejection{Reason: "job: options.uv_size: must be 256..4096, got 9",
			Code: "invalid_job", JobID: id}))
		require.NoError(t, m.TermWithReason("invalid"))
		_, err := b.st.Reject(b.ctx, status.Record{ID: id, Tenant: "acme"}, "invalid_job", "uv_size")
		require.NoError(t, err)
		return
	}
	t.Fatal("message not delivered")
}

func (b *bundle) dlq(sub string, rest ...string) []string {
	return append(append([]string{"dlq", sub}, b.flags...), rest...)
}

func TestDLQListShowRetry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id, err := job.NewID()
	require.NoError(t, err)
	good := `{"version":1,"id":"` + id + `","tenant":"acme","input":{"bucket":"` + b.env.Config.S3Bucket +
		`","key":"inputs/acme/` + id + `/p.jpg"},"submitted_at":"2026-01-02T03:04:05Z"}`
	bad := strings.Replace(good, `"submitted_at"`, `"options":{"uv_size":9},"submitted_at"`, 1)
	b.deadLetter(t, []byte(bad), id)

	var out, errb bytes.Buffer
	require.NoError(t, run(b.ctx, b.dlq("list", "--json"), &out, &errb), errb.String())
	var listed struct {
		Seq        uint64
		JobID      string `json:"job_id"`
		Code       string
		Deliveries uint64
		Reason     string
		Data       string
		Header     map[string][]string
	}
	require.NoError(t, json.Unmarshal(bytes.TrimSpace(out.Bytes()), &listed), out.String())
	require.Equal(t, id, listed.JobID)
	require.Equal(t, "invalid_job", listed.Code)
	require.EqualValues(t, 1, listed.Deliveries)
	require.Equal(t, bad, listed.Data)
	require.Equal(t, []string{"tests"}, listed.Header["X-Sender"])

	out.Reset()
	require.NoError(t, run(b.ctx, b.dlq("list"), &out, &errb), errb.String())
	require.Contains(t, out.String(), id)
	require.Contains(t, out.String(), "uv_size")
	out.Reset()
	require.NoError(t, run(b.ctx, b.dlq("show", "1"), &out, &errb), errb.String())
	require.Contains(t, out.String(), "X-Sender: tests")
	require.Contains(t, out.String(), `"uv_size": 9`, "the payload, indented")

	// Retrying the stored message as it is fails: it is still invalid.
	err = run(b.ctx, b.dlq("retry", "1"), &out, &errb)
	require.ErrorContains(t, err, "options.uv_size")
	require.ErrorContains(t, err, "--file")
	rec, err := b.st.Get(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, status.StateFailed, rec.State, "a refused retry changes nothing")

	// A corrected message goes through: record queued again, message
	// published, dead letter gone.
	fixed := filepath.Join(t.TempDir(), "fixed.json")
	require.NoError(t, os.WriteFile(fixed, []byte(good), 0o600))
	out.Reset()
	require.NoError(t, run(b.ctx, b.dlq("retry", "1", "--file", fixed), &out, &errb), errb.String())
	require.Contains(t, out.String(), "resubmitted dead letter 1 as job "+id)
	rec, err = b.st.Get(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, status.StateQueued, rec.State)
	require.Empty(t, rec.ErrorCode)
	require.Equal(t, "inputs/acme/"+id+"/p.jpg", rec.Input, "the record takes the corrected message's input")
	require.Contains(t, string(rec.Options), `"uv_size":1024`)
	msg := b.takeJob(t)
	require.Equal(t, id, msg.ID)
	require.Equal(t, job.DefaultOptions(), msg.Options)
	out.Reset()
	require.NoError(t, run(b.ctx, b.dlq("list", "--json"), &out, &errb), errb.String())
	require.Empty(t, strings.TrimSpace(out.String()))
	require.Error(t, run(b.ctx, b.dlq("show", "1"), &out, &errb))
	require.ErrorIs(t, run(b.ctx, b.dlq("retry", "x"), &out, &errb), ErrUsage)
}
