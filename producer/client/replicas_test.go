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

// A submit whose record was written but not replicated (WAIT for a replica
// that is not there) fails, and the record it left is failed, not queued
// forever: the caller submits anew.
func TestSubmitUnreplicatedRecordIsNotLeftQueued(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := testenv.Context(t, 30*time.Second)
	cfg := env.Config
	cfg.RedisWaitReplicas, cfg.RedisWaitTimeout = 1, 50*time.Millisecond
	require.NoError(t, cfg.Validate())
	c, err := client.New(ctx, cfg, client.WithLogger(testenv.Logger(t)))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	_, err = c.Submit(ctx, client.SubmitRequest{Image: bytes.NewReader(testenv.FaceJPEG(t)), Filename: "a.jpg",
		Options: job.Options{}, Tenant: "acme"})
	require.ErrorIs(t, err, status.ErrNotReplicated)

	st := status.New(env.Redis.Client, status.Config{})
	recs, _, err := st.List(ctx, "acme", "", 10)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, status.StateFailed, recs[0].State)
	require.Equal(t, "publish_failed", recs[0].ErrorCode)
	stream, err := env.NATS.JS.Stream(ctx, cfg.NATSStream)
	require.NoError(t, err)
	info, err := stream.Info(ctx)
	require.NoError(t, err)
	require.Zero(t, info.State.Msgs, "never published")
}
