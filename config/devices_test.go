package config

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/device"
)

// TestDevicesFollowTheWorker: each FACEFLEET_DEVICES entry is valid exactly
// when the worker can parse it (shared/device owns the syntax); a device
// listed twice is left to the worker (fleet.ParseDevices refuses it at start).
func TestDevicesFollowTheWorker(t *testing.T) {
	t.Parallel()
	for _, devs := range []string{"cpu", "all", "cuda:0,cuda:1", " CUDA:3 ", "cuda", "tensorrt:1", "cpu,cuda:0",
		"cuda:+1", "cuda:-1", "tpu", "cpu:1", "cuda:x,gpu"} {
		_, cfgErr := LoadWorker([]string{"--devices", devs}, nil)
		_, runErr := device.ParseList(devs, "cuda", nil)
		require.Equal(t, runErr == nil, cfgErr == nil, "%q: config %v, worker %v", devs, cfgErr, runErr)
		if cfgErr != nil {
			require.ErrorIs(t, cfgErr, ErrInvalid, devs)
		}
	}
	for _, dup := range []string{"cuda:0,cuda:0", "cuda,cuda:0"} {
		_, err := LoadWorker([]string{"--devices", dup}, nil)
		require.NoError(t, err, "%q: duplicates are the worker's to refuse", dup)
		_, err = device.ParseList(dup, "cuda", nil)
		require.ErrorIs(t, err, device.ErrInvalid, dup)
	}
}
