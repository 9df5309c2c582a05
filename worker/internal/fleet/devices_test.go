package fleet

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func env(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

func TestParseDevices(t *testing.T) {
	t.Parallel()
	smi2 := func() ([]byte, error) {
		return []byte("GPU 0: NVIDIA H200 (UUID: GPU-aa)\nGPU 1: NVIDIA H200 (UUID: GPU-bb)\n"), nil
	}
	noSMI := func() ([]byte, error) { return nil, errors.New("exec: nvidia-smi: not found") }
	cpu := []Device{{}}
	for _, tc := range []struct {
		name string
		spec string
		disc CUDADiscovery
		want []Device
	}{
		{"empty is cpu", "", CUDADiscovery{}, cpu},
		{"cpu", "cpu", CUDADiscovery{}, cpu},
		{"cpu uppercase", " CPU ", CUDADiscovery{}, cpu},
		{"one cuda", "cuda:1", CUDADiscovery{}, []Device{{CUDA: true, Index: 1}}},
		{"bare cuda is 0", "cuda", CUDADiscovery{}, []Device{{CUDA: true}}},
		{"list", "cuda:0, cuda:1", CUDADiscovery{}, []Device{{CUDA: true}, {CUDA: true, Index: 1}}},
		{"all without gpu", "all", CUDADiscovery{LookupEnv: env(nil), NvidiaSMIList: noSMI}, cpu},
		{"all with nothing", "all", CUDADiscovery{}, cpu},
		{"all from nvidia-smi", "all", CUDADiscovery{LookupEnv: env(nil), NvidiaSMIList: smi2},
			[]Device{{CUDA: true}, {CUDA: true, Index: 1}}},
		{"all from CUDA_VISIBLE_DEVICES renumbers", "all",
			CUDADiscovery{LookupEnv: env(map[string]string{"CUDA_VISIBLE_DEVICES": "2,3,5"}), NvidiaSMIList: smi2},
			[]Device{{CUDA: true}, {CUDA: true, Index: 1}, {CUDA: true, Index: 2}}},
		{"CUDA_VISIBLE_DEVICES empty hides all", "all",
			CUDADiscovery{LookupEnv: env(map[string]string{"CUDA_VISIBLE_DEVICES": ""}), NvidiaSMIList: smi2}, cpu},
		{"CUDA_VISIBLE_DEVICES -1 hides all", "all",
			CUDADiscovery{LookupEnv: env(map[string]string{"CUDA_VISIBLE_DEVICES": "-1"}), NvidiaSMIList: smi2}, cpu},
		{"CUDA_VISIBLE_DEVICES stops at invalid", "all",
			CUDADiscovery{LookupEnv: env(map[string]string{"CUDA_VISIBLE_DEVICES": "GPU-aa,-1,3"})},
			[]Device{{CUDA: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseDevices(tc.spec, tc.disc)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	for _, bad := range []string{"tpu", "cuda:x", "cuda:-1", "cuda:0,cuda:0", "cpu,cpu", "cuda:", ","} {
		_, err := ParseDevices(bad, CUDADiscovery{})
		require.ErrorIs(t, err, ErrInvalidConfig, bad)
	}
}

func TestDeviceString(t *testing.T) {
	t.Parallel()
	require.Equal(t, "cpu", Device{}.String())
	require.Equal(t, "cuda:3", Device{CUDA: true, Index: 3}.String())
	for _, d := range []Device{{}, {CUDA: true, Index: 7}} {
		got, err := ParseDevices(d.String(), CUDADiscovery{})
		require.NoError(t, err)
		require.Equal(t, []Device{d}, got)
	}
}

func FuzzParseDevices(f *testing.F) {
	for _, s := range []string{"cpu", "all", "cuda:0,cuda:1", "cuda:9999", "cpu,cuda", ",,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ds, err := ParseDevices(s, CUDADiscovery{})
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidConfig)
			return
		}
		require.NotEmpty(t, ds)
		seen := map[Device]bool{}
		for _, d := range ds {
			require.False(t, seen[d])
			seen[d] = true
			again, err := ParseDevices(d.String(), CUDADiscovery{})
			require.NoError(t, err)
			require.Equal(t, []Device{d}, again)
		}
	})
}
