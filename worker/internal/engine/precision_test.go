package engine

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/models"
)

func TestResolvePrecision(t *testing.T) {
	t.Parallel()
	cpu, gpu := Device{Kind: KindCPU}, Device{Kind: KindCUDA}
	for _, tc := range []struct {
		in   string
		dev  Device
		want models.Precision
	}{
		{"auto", cpu, CPUAutoPrecision}, {"", cpu, CPUAutoPrecision}, {"AUTO", gpu, models.FP16},
		{"fp32", gpu, models.FP32}, {"fp16", cpu, models.FP16},
	} {
		got, err := ResolvePrecision(tc.in, tc.dev)
		require.NoError(t, err)
		require.Equal(t, tc.want, got, tc.in)
	}
	_, err := ResolvePrecision("bf16", cpu)
	require.Error(t, err)
	require.ErrorIs(t, err, ErrInvalidOptions)
}

// TestBare opens every network the engine runs per face, and the detectors,
// as bare sessions with the engine's options and runs each on its zero inputs.
func TestBare(t *testing.T) {
	t.Parallel()
	e := setup(t)
	nets := e.PerFaceNetworks()
	require.Len(t, nets, 4)
	require.Equal(t, models.Blendshapes, nets[3].Model)
	require.Equal(t, models.FP32, nets[3].Precision, "the blendshape MLP always runs FP32")
	require.Equal(t, FaceNetwork{models.LandmarkAttention, e.Precision(), 1}, nets[1], "the irises: FaceMesh with attention, once per face")
	require.Equal(t, models.DetectorFull, DetectorModel(DetectorFull))
	require.Equal(t, models.DetectorShort, DetectorModel(DetectorShort))
	for _, n := range append(nets, FaceNetwork{Model: DetectorModel(DetectorShort), Precision: e.Precision(), Runs: 1}) {
		b, err := e.NewBare(n.Model, n.Precision)
		require.NoError(t, err, n.Model)
		for range n.Runs {
			require.NoError(t, b.Run(), n.Model)
		}
		b.Close()
	}
	_, err := e.NewBare("no_such_model", models.FP32)
	require.ErrorIs(t, err, ErrModel)
}

// TestFindLibrary: the environment wins; else DefaultLibraryPath in the
// directory or one above it; else "".
func TestFindLibrary(t *testing.T) {
	t.Setenv(LibraryEnv, "")
	root := t.TempDir()
	lib := filepath.Join(root, DefaultLibraryPath)
	require.NoError(t, os.MkdirAll(filepath.Dir(lib), 0o755))
	require.NoError(t, os.WriteFile(lib, nil, 0o644))
	deep := filepath.Join(root, "a", "b")
	require.NoError(t, os.MkdirAll(deep, 0o755))
	require.Equal(t, lib, FindLibrary(deep))
	require.Equal(t, lib, FindLibrary(root))
	require.Empty(t, FindLibrary(t.TempDir()))
	t.Setenv(LibraryEnv, "/opt/ort/libonnxruntime.so")
	require.Equal(t, "/opt/ort/libonnxruntime.so", FindLibrary(deep))
}
