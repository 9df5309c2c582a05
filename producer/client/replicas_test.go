package client_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/producer/client"
	"github.com/facefleet/facefleet/producer/internal/testenv"
	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/status"
)

// A submit whose record write fails (here: written but not replicated, a
// WAIT for a replica that is not there) is still accepted — its message is
// in the stream and its worker writes the record — so that callers do not
// submit it again and again; never a queued record without a message.
func TestSubmitRecordFailureStillQueuesTheJob(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := testenv.Context(t, 30*time.Second)
	cfg := env.Config
	cfg.RedisWaitReplicas, cfg.RedisWaitTimeout = 1, 50*time.Millisecond
	require.NoError(t, cfg.Validate())
	c, err := client.New(ctx, cfg, client.WithLogger(testenv.Logger(t)))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	sub, err := c.Submit(ctx, client.SubmitRequest{Image: bytes.NewReader(testenv.FaceJPEG(t)), Filename: "a.jpg",
		Options: job.Options{}, Tenant: "acme"})
	require.NoError(t, err)
	require.Equal(t, status.StateQueued, sub.State)
	require.Equal(t, "acme", sub.Tenant)

	st := status.New(env.Redis.Client, status.Config{})
	recs, _, err := st.List(ctx, "acme", "", 10)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, status.StateQueued, recs[0].State)
	require.Equal(t, sub.ID, recs[0].ID)
	stream, err := env.NATS.JS.Stream(ctx, cfg.NATSStream)
	require.NoError(t, err)
	info, err := stream.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(1), info.State.Msgs, "published before the record")
	m := fetchOne(t, &bundle{env: env, c: c, ctx: ctx}, job.PriorityNormal)
	got, err := job.Decode(m.Data())
	require.NoError(t, err)
	require.Equal(t, recs[0].ID, got.ID)
	require.NoError(t, m.Ack())
}
