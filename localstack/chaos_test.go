package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/status"
)

func TestParseFaults(t *testing.T) {
	got, err := parseFaults(" worker,nats,worker,,s3")
	require.NoError(t, err)
	require.Equal(t, []string{"worker", "nats", "s3"}, got)
	got, err = parseFaults("")
	require.NoError(t, err)
	require.Empty(t, got)
	_, err = parseFaults("worker,disk")
	require.ErrorContains(t, err, `unknown fault "disk"`)
}

// The chaos checks find each kind of problem in a job's status history.
func TestChaosCheckJob(t *testing.T) {
	ctx := context.Background()
	f := &fleet{}
	failed := status.Record{State: status.StateFailed, ErrorCode: "image_undecodable", Revision: 3,
		FinishedAt: time.Now().Add(time.Second)}
	check := func(j *chaosJob, evs []event) *chaosResult {
		res := &chaosResult{}
		f.checkJob(ctx, nil, j, evs, res)
		return res
	}
	good := []event{{1, status.StateQueued, 0, 0}, {2, status.StateRunning, 0, 1}, {3, status.StateFailed, 0, 1}}
	res := check(&chaosJob{id: "a", bad: true, start: time.Now(), final: failed}, good)
	require.False(t, res.bad())
	require.Equal(t, 1, res.failed)
	require.Equal(t, 3, res.events)

	// A valid photo that failed is a wrong outcome.
	res = check(&chaosJob{id: "b", final: failed}, good)
	require.Equal(t, 1, res.wrongOutcome)
	require.True(t, res.bad())

	// Running again after the terminal state, and a second terminal state.
	res = check(&chaosJob{id: "c", bad: true, final: failed}, append(good[:3:3],
		event{4, status.StateRunning, 0, 2}, event{5, status.StateSucceeded, 100, 2}))
	require.Equal(t, 2, res.regressions, "running after failed; the record's revision below the last event's")
	require.Equal(t, 2, res.multiTerminal, "succeeded after failed; events end otherwise than the record")

	// Percent falling within an attempt; revision going back; attempts falling.
	d := failed
	d.Revision = 4
	res = check(&chaosJob{id: "d", bad: true, final: d}, []event{{1, status.StateRunning, 40, 1},
		{2, status.StateRunning, 30, 1}, {2, status.StateRunning, 50, 1}, {4, status.StateRunning, 60, 0}})
	require.Equal(t, 3, res.regressions)

	// A record whose revision is below an event's lost a write.
	lost := failed
	lost.Revision = 2
	res = check(&chaosJob{id: "e", bad: true, final: lost}, good)
	require.Equal(t, 1, res.regressions)

	// Not finished.
	res = check(&chaosJob{id: "f", final: status.Record{State: status.StateRunning}}, nil)
	require.Equal(t, 1, res.pending)
	require.True(t, res.bad())
}
