package fleet

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/worker/internal/engine"
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
	cuda0, cuda1 := engine.Device{Kind: "cuda"}, engine.Device{Kind: "cuda", ID: 1}
	cpu := []engine.Device{{Kind: "cpu"}}
	for _, tc := range []struct {
		name string
		spec string
		disc CUDADiscovery
		want []engine.Device
	}{
		{"empty is cpu", "", CUDADiscovery{}, cpu},
		{"cpu", "cpu", CUDADiscovery{}, cpu},
		{"cpu uppercase", " CPU ", CUDADiscovery{}, cpu},
		{"one cuda", "cuda:1", CUDADiscovery{}, []engine.Device{cuda1}},
		{"bare cuda is 0", "cuda", CUDADiscovery{}, []engine.Device{cuda0}},
		{"list", "cuda:0, cuda:1", CUDADiscovery{}, []engine.Device{cuda0, cuda1}},
		{"all without gpu", "all", CUDADiscovery{LookupEnv: env(nil), NvidiaSMIList: noSMI}, cpu},
		{"all with nothing", "all", CUDADiscovery{}, cpu},
		{"all from nvidia-smi", "all", CUDADiscovery{LookupEnv: env(nil), NvidiaSMIList: smi2},
			[]engine.Device{cuda0, cuda1}},
		{"all from CUDA_VISIBLE_DEVICES renumbers", "all",
			CUDADiscovery{LookupEnv: env(map[string]string{"CUDA_VISIBLE_DEVICES": "2,3,5"}), NvidiaSMIList: smi2},
			[]engine.Device{cuda0, cuda1, {Kind: "cuda", ID: 2}}},
		{"CUDA_VISIBLE_DEVICES empty hides all", "all",
			CUDADiscovery{LookupEnv: env(map[string]string{"CUDA_VISIBLE_DEVICES": ""}), NvidiaSMIList: smi2}, cpu},
		{"CUDA_VISIBLE_DEVICES -1 hides all", "all",
			CUDADiscovery{LookupEnv: env(map[string]string{"CUDA_VISIBLE_DEVICES": "-1"}), NvidiaSMIList: smi2}, cpu},
		{"CUDA_VISIBLE_DEVICES stops at invalid", "all",
			CUDADiscovery{LookupEnv: env(map[string]string{"CUDA_VISIBLE_DEVICES": "GPU-aa,-1,3"})},
			[]engine.Device{cuda0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseDevices(tc.spec, "cuda", tc.disc)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	for _, bad := range []string{"tpu", "cuda:x", "cuda:-1", "cuda:0,cuda:0", "cuda,cuda:0", "cpu,cpu", "cuda:", ",", "cpu:1"} {
		_, err := ParseDevices(bad, "cuda", CUDADiscovery{})
		require.ErrorIs(t, err, ErrInvalidConfig, bad)
	}
	_, err := ParseDevices("cpu", "rocm", CUDADiscovery{})
	require.ErrorIs(t, err, ErrInvalidConfig)
}

func TestParseDevicesTensorRT(t *testing.T) {
	t.Parallel()
	got, err := ParseDevices("cuda:1,cpu", "tensorrt", CUDADiscovery{})
	require.NoError(t, err)
	require.Equal(t, []engine.Device{{Kind: "tensorrt", ID: 1}, {Kind: "cpu"}}, got)
	got, err = ParseDevices("all", "tensorrt", CUDADiscovery{LookupEnv: env(map[string]string{"CUDA_VISIBLE_DEVICES": "4"})})
	require.NoError(t, err)
	require.Equal(t, []engine.Device{{Kind: "tensorrt"}}, got)
}

func FuzzParseDevices(f *testing.F) {
	for _, s := range []string{"cpu", "all", "cuda:0,cuda:1", "cuda:9999", "cpu,cuda", ",,", "tensorrt:2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ds, err := ParseDevices(s, "cuda", CUDADiscovery{})
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidConfig)
			return
		}
		require.NotEmpty(t, ds)
		seen := map[engine.Device]bool{}
		for _, d := range ds {
			require.False(t, seen[d])
			seen[d] = true
			again, err := ParseDevices(d.String(), "cuda", CUDADiscovery{})
			require.NoError(t, err)
			require.Equal(t, []engine.Device{d}, again)
		}
	})
}

func FuzzCUDAVisible(f *testing.F) {
	f.Add("0,1", "GPU 0: A\nGPU 1: B\n")
	f.Add("", "")
	f.Add("-1", "garbage")
	f.Fuzz(func(t *testing.T, envVal, smi string) {
		for _, d := range []CUDADiscovery{
			{LookupEnv: env(map[string]string{"CUDA_VISIBLE_DEVICES": envVal})},
			{LookupEnv: env(nil), NvidiaSMIList: func() ([]byte, error) { return []byte(smi), nil }},
		} {
			vis := d.Visible()
			for i, n := range vis {
				require.Equal(t, i, n, "ordinals are 0..n-1")
			}
		}
	})
}
