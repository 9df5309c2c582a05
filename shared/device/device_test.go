package device_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/device"
)

func TestParseList(t *testing.T) {
	t.Parallel()
	two := func() []int { return []int{0, 1} }
	for spec, want := range map[string][]device.Device{
		"":              {{Kind: "cpu"}},
		" CPU ":         {{Kind: "cpu"}},
		"all":           {{Kind: "tensorrt"}, {Kind: "tensorrt", ID: 1}},
		"cuda:1,cpu":    {{Kind: "tensorrt", ID: 1}, {Kind: "cpu"}},
		"tensorrt:2":    {{Kind: "tensorrt", ID: 2}},
		"cuda, cuda:1 ": {{Kind: "tensorrt"}, {Kind: "tensorrt", ID: 1}},
	} {
		got, err := device.ParseList(spec, "tensorrt", two)
		require.NoError(t, err, spec)
		require.Equal(t, want, got, spec)
	}
	got, err := device.ParseList("all", "", nil)
	require.NoError(t, err)
	require.Equal(t, []device.Device{{Kind: "cpu"}}, got, "all without a visible GPU is the CPU")
	for _, bad := range []string{"tpu", "cuda:x", "cuda:-1", "cuda:+1", "cuda:0,cuda:0", "cuda,cuda:0", "cpu,cpu", "cuda:", ",", "cpu:1"} {
		_, err := device.ParseList(bad, "cuda", nil)
		require.ErrorIs(t, err, device.ErrInvalid, bad)
	}
	_, err = device.ParseList("cpu", "rocm", nil)
	require.ErrorIs(t, err, device.ErrInvalid)
}

func TestParsePrecision(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "auto", "auto": "auto", " AUTO ": "auto", "fp16": "fp16", "FP32": "fp32"} {
		got, err := device.ParsePrecision(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"int8", "bf16", "fp", "auto16"} {
		_, err := device.ParsePrecision(bad)
		require.ErrorIs(t, err, device.ErrInvalidPrecision, bad)
	}
}
