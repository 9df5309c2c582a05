package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/config"
	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/status"
	"github.com/facefleet/facefleet/worker/internal/fleet"
)

func TestRunFleetServesJobs(t *testing.T) {
	t.Parallel()
	ortLib(t) // skips early without ONNX Runtime
	e := newFleetEnv(t, 5*time.Second)
	addr := freeAddr(t)
	args := e.args(t, addr, "fleet-test")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- runFleet(ctx, args, &bytes.Buffer{}, &stderr, nil) }()
	defer func() { t.Log(stderr.String()) }()

	require.Eventually(t, func() bool {
		code, _ := httpGet("http://" + addr + "/readyz")
		return code == http.StatusOK
	}, 60*time.Second, 20*time.Millisecond, "worker never became ready")
	code, _ := httpGet("http://" + addr + "/healthz")
	require.Equal(t, http.StatusOK, code)

	id := e.submit(t, fleetPhoto(t, "kj_test1.jpg"), job.Options{UVSize: 256})
	r := e.waitRecord(t, id, 60*time.Second, func(r status.Record) bool { return r.State.Terminal() })
	require.Equal(t, status.StateSucceeded, r.State, "%+v", r)
	require.Equal(t, "fleet-test", r.Worker)
	require.Equal(t, "cpu", r.Device)
	keys, err := e.store.ListResults(t.Context(), id)
	require.NoError(t, err)
	require.ElementsMatch(t, r.Outputs, keys)
	require.Len(t, keys, 2)

	// The worker counts a job after writing its terminal status (and acks
	// it after that), so the counters catch up with the record shortly.
	wants := []string{
		`facefleet_worker_jobs_total{outcome="succeeded"} 1`,
		`facefleet_worker_stage_duration_seconds_count{stage="detect"} 1`,
		`facefleet_worker_stage_duration_seconds_count{stage="upload"} 1`,
		`facefleet_worker_inflight_jobs{device="cpu"} 0`,
		`facefleet_worker_gpu_memory_bytes{device="cpu"} 0`,
		`process_resident_memory_bytes`,
	}
	var body string
	require.Eventually(t, func() bool {
		var code int
		code, body = httpGet("http://" + addr + "/metrics")
		if code != http.StatusOK {
			return false
		}
		for _, want := range wants {
			if !strings.Contains(body, want) {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond, "metrics never showed the finished job")
	for _, want := range wants {
		require.Contains(t, body, want)
	}
	require.Eventually(t, func() bool {
		_, body := httpGet("http://" + addr + "/metrics")
		return strings.Contains(body, `facefleet_worker_queue_lag_messages{priority="normal"} 0`)
	}, 15*time.Second, 100*time.Millisecond)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("runFleet did not return after cancel")
	}
	code, _ = httpGet("http://" + addr + "/healthz")
	require.Zero(t, code, "the health server must be closed")
}

func TestRunFleetBadConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want error
	}{
		{[]string{"--devices", "tpu:0"}, config.ErrInvalid},
		{[]string{"--slots-per-device", "0"}, config.ErrInvalid},
		{[]string{"--devices", "cuda:0,cuda:0"}, fleet.ErrInvalidConfig},
	} {
		err := runFleet(t.Context(), tc.args, &bytes.Buffer{}, &bytes.Buffer{}, nil)
		require.ErrorIs(t, err, tc.want, "%v", tc.args)
	}
	err := runFleet(t.Context(), []string{"extra-arg"}, &bytes.Buffer{}, &bytes.Buffer{}, nil)
	require.ErrorIs(t, err, errUsage)
	err = runFleet(t.Context(), []string{"--no-such-flag"}, &bytes.Buffer{}, &bytes.Buffer{}, nil)
	require.ErrorIs(t, err, errUsage)
	var out bytes.Buffer
	require.NoError(t, runFleet(t.Context(), []string{"-h"}, &bytes.Buffer{}, &out, nil))
	require.Contains(t, out.String(), "-devices")
}
