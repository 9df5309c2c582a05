package tflite_test

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/facefleet/facefleet/models/onnxfp16/onnxpb"
	"github.com/facefleet/facefleet/models/tflite"
	"github.com/facefleet/facefleet/shared/toolcheck"
)

// faceMeshPackage finds the pinned @mediapipe/face_mesh package that
// .ci/install-mediapipe.sh installs into .cache/mediapipe-npm.
func faceMeshPackage(t *testing.T) string {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		p := filepath.Join(dir, ".cache", "mediapipe-npm", "node_modules", "@mediapipe", "face_mesh")
		if _, err := os.Stat(filepath.Join(p, "face_mesh_solution_packed_assets.data")); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			toolcheck.Missing(t, "@mediapipe/face_mesh not installed: run make setup (.ci/install-mediapipe.sh)")
			return ""
		}
		dir = parent
	}
}

func packedModel(t *testing.T, name string) []byte {
	t.Helper()
	dir := faceMeshPackage(t)
	loader, err := os.ReadFile(filepath.Join(dir, "face_mesh_solution_packed_assets_loader.js"))
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(dir, "face_mesh_solution_packed_assets.data"))
	require.NoError(t, err)
	b, err := tflite.FromPackedAssets(loader, data, name)
	require.NoError(t, err)
	return b
}

// attentionOutputs are the outputs the pack keeps of FaceMesh with attention:
// the mesh (the irises' z) and the irises; lips, eye contours and the face
// flag are pruned (their branches cost about a quarter of the model).
var attentionOutputs = []string{"output_mesh_identity", "output_left_iris", "output_right_iris"}

// The committed FaceMesh ONNX and FaceMesh-with-attention ONNX (MediaPipe's
// refineLandmarks model, its custom operators as ONNX subgraphs) are exactly
// what the converter makes from the TFLite models inside MediaPipe's own
// Face Mesh JS solution: rerunning the tool rewrites identical bytes.
func TestFaceMeshModelsAreDerivedFromMediaPipe(t *testing.T) {
	for name, outputs := range map[string][]string{
		"face_landmark":                nil,
		"face_landmark_with_attention": attentionOutputs,
	} {
		t.Run(name, func(t *testing.T) {
			src := packedModel(t, name+".tflite")
			got, err := tflite.ConvertBytes(src, outputs...)
			require.NoError(t, err)
			again, err := tflite.ConvertBytes(src, outputs...)
			require.NoError(t, err)
			require.Equal(t, got, again, "conversion is not deterministic")
			committed, err := os.ReadFile("../" + name + ".onnx")
			require.NoError(t, err)
			require.True(t, bytes.Equal(got, committed),
				"models/%s.onnx is not the conversion of @mediapipe/face_mesh's %s.tflite: run make models", name, name)
		})
	}
}

// Every weight of the ONNX graph is the TFLite weight (FP16-dequantized)
// moved to NCHW: checked independently of the converter by matching each
// initializer to the TFLite tensor of the same name under both layouts.
func TestConvertedWeightsEqualTFLite(t *testing.T) {
	for name, outputs := range map[string][]string{
		"face_landmark.tflite":                {"conv2d_21", "conv2d_31"},
		"face_landmark_with_attention.tflite": attentionOutputs,
	} {
		t.Run(name, func(t *testing.T) { checkWeightsEqual(t, name, outputs) })
	}
}

func checkWeightsEqual(t *testing.T, name string, outputs []string) {
	src := packedModel(t, name)
	m, err := tflite.Parse(src)
	require.NoError(t, err)
	b, err := tflite.ConvertBytes(src, outputs...)
	require.NoError(t, err)
	var om onnxpb.ModelProto
	require.NoError(t, proto.Unmarshal(b, &om))
	byName := map[string]tflite.Tensor{}
	for _, tt := range m.Tensors {
		byName[tt.Name] = tt
	}
	checked := 0
	for _, init := range om.GetGraph().GetInitializer() {
		// DEQUANTIZE outputs name the weights; their FP16 source is the
		// tensor without the suffix.
		tt, ok := byName[strings.TrimSuffix(init.GetName(), "_dequantize")]
		if !ok || init.GetDataType() != 1 || len(tt.Data) == 0 {
			continue
		}
		want, err := tt.Floats()
		require.NoError(t, err)
		raw := init.GetRawData()
		require.Len(t, raw, 4*len(want), init.GetName())
		got := make([]float32, len(want))
		for i := range got {
			got[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		// Same multiset of values (layout-independent) and, for 1-D
		// tensors, the same order.
		require.InDelta(t, sum(want), sum(got), 1e-3*(1+math.Abs(sum(want))), init.GetName())
		require.InDelta(t, sumSq(want), sumSq(got), 1e-3*(1+sumSq(want)), init.GetName())
		if len(tt.Shape) == 1 {
			require.Equal(t, want, got, init.GetName())
		}
		if len(tt.Shape) == 4 && tt.Shape[1] == 1 && tt.Shape[2] == 1 {
			// 1×1 convolution [O,1,1,I] is [O,I,1,1] in the same order.
			require.Equal(t, want, got, init.GetName())
		}
		checked++
	}
	require.Greater(t, checked, 100, "too few initializers matched TFLite tensors by name")
	require.Equal(t, "input_1", om.GetGraph().GetInput()[0].GetName())
	var outs []string
	for _, o := range om.GetGraph().GetOutput() {
		outs = append(outs, o.GetName())
	}
	require.Equal(t, outputs, outs)
}

func sum(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x)
	}
	return s
}

func sumSq(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return s
}

func TestParseRejectsMalformed(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":       nil,
		"not tflite":  []byte("hello world, not a model"),
		"header only": {8, 0, 0, 0, 'T', 'F', 'L', '3'},
		"bad root":    {0xff, 0xff, 0xff, 0x7f, 'T', 'F', 'L', '3'},
	} {
		_, err := tflite.Parse(b)
		require.True(t, errors.Is(err, tflite.ErrFormat), "%s: %v", name, err)
	}
}

func TestFromPackedAssetsErrors(t *testing.T) {
	loader := []byte(`{"filename": "/a/m.tflite", "start": 0, "end": 4}, {"filename": "/b/x.tflite", "start": 2, "end": 99}`)
	b, err := tflite.FromPackedAssets(loader, []byte("abcdef"), "m.tflite")
	require.NoError(t, err)
	require.Equal(t, []byte("abcd"), b)
	_, err = tflite.FromPackedAssets(loader, []byte("abcdef"), "x.tflite")
	require.ErrorIs(t, err, tflite.ErrFormat) // end beyond the data
	_, err = tflite.FromPackedAssets(loader, []byte("abcdef"), "missing.tflite")
	require.ErrorIs(t, err, tflite.ErrFormat)
}

// FuzzParse: no input panics; errors are typed.
func FuzzParse(f *testing.F) {
	f.Add([]byte{8, 0, 0, 0, 'T', 'F', 'L', '3', 0, 0, 0, 0})
	f.Add([]byte{12, 0, 0, 0, 'T', 'F', 'L', '3', 4, 0, 0, 0, 8, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := tflite.Parse(b)
		if err != nil {
			if !errors.Is(err, tflite.ErrFormat) && !errors.Is(err, tflite.ErrUnsupported) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if _, err := tflite.ToONNX(m, tflite.ConvertOptions{}); err != nil && !errors.Is(err, tflite.ErrFormat) && !errors.Is(err, tflite.ErrUnsupported) {
			t.Fatalf("untyped conversion error %v", err)
		}
	})
}

const taskBundle = "../mediapipe-task/face_landmarker_v2_with_blendshapes.task"

func fromTask(t *testing.T, name string) []byte {
	t.Helper()
	z, err := zip.OpenReader(taskBundle)
	require.NoError(t, err)
	defer z.Close()
	for _, f := range z.File {
		if f.Name == name {
			r, err := f.Open()
			require.NoError(t, err)
			defer r.Close()
			b, err := io.ReadAll(r)
			require.NoError(t, err)
			return b
		}
	}
	t.Fatalf("%s not in %s", name, taskBundle)
	return nil
}

// The Face Landmarker v2 ONNX is the conversion of the .task bundle's
// face_landmarks_detector.tflite (its landmark and presence outputs).
func TestLandmarkerV2ModelIsDerivedFromMediaPipe(t *testing.T) {
	got, err := tflite.ConvertBytes(fromTask(t, "face_landmarks_detector.tflite"), "Identity", "Identity_1")
	require.NoError(t, err)
	committed, err := os.ReadFile("../face_landmarks_detector.onnx")
	require.NoError(t, err)
	require.True(t, bytes.Equal(got, committed),
		"models/face_landmarks_detector.onnx is not the conversion of the .task's face_landmarks_detector.tflite: run make models")
}

// The blendshape ONNX (converted elsewhere with tf2onnx) carries exactly the
// weights of the .task bundle's face_blendshapes.tflite: every float
// initializer equals one TFLite constant as a multiset of values.
func TestBlendshapeWeightsEqualMediaPipe(t *testing.T) {
	m, err := tflite.Parse(fromTask(t, "face_blendshapes.tflite"))
	require.NoError(t, err)
	var consts [][]float32
	for _, tt := range m.Tensors {
		if len(tt.Data) == 0 || (tt.Type != tflite.TypeFloat32 && tt.Type != tflite.TypeFloat16) {
			continue
		}
		v, err := tt.Floats()
		require.NoError(t, err)
		slices.Sort(v)
		consts = append(consts, v)
	}
	b, err := os.ReadFile("../face_blendshapes.onnx")
	require.NoError(t, err)
	var om onnxpb.ModelProto
	require.NoError(t, proto.Unmarshal(b, &om))
	matched := 0
	for _, init := range om.GetGraph().GetInitializer() {
		if init.GetDataType() != 1 {
			continue
		}
		raw := init.GetRawData()
		v := init.GetFloatData()
		for i := 0; i+4 <= len(raw); i += 4 {
			v = append(v, math.Float32frombits(binary.LittleEndian.Uint32(raw[i:])))
		}
		v = slices.Clone(v)
		slices.Sort(v)
		found := slices.ContainsFunc(consts, func(c []float32) bool { return slices.Equal(c, v) })
		require.True(t, found, "initializer %s (%d values) matches no TFLite constant", init.GetName(), len(v))
		matched++
	}
	require.GreaterOrEqual(t, matched, 40)
}
