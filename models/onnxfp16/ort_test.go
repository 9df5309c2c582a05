package onnxfp16_test

import (
	"image"
	"image/color"
	_ "image/jpeg"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	ort "github.com/yalue/onnxruntime_go"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/models/internal/orttest"
	"github.com/facefleet/facefleet/models/onnxfp16"
)

// spec describes how to feed one model of the pack.
type spec struct {
	model   models.Model
	input   string
	outputs []string
	size    int
	nchw    bool
	lo, hi  float32   // input value range
	logit   []bool    // per output: a logit, compared after the sigmoid
	tol     []float32 // per output: max |fp32 − fp16| (after the sigmoid for logits), see MODEL_CARD.md
}

func specs() []spec {
	det := []string{"Identity:0", "Identity_1:0", "Identity_2:0", "Identity_3:0"}
	return []spec{
		// Scores as probabilities: 0.01; boxes and keypoints in input pixels: 1 px.
		{model: models.DetectorShort, input: "input:0", outputs: det, size: 128, lo: -1, hi: 1,
			logit: []bool{true, true, false, false}, tol: []float32{0.01, 0.01, 1, 1}},
		{model: models.DetectorFull, input: "input:0", outputs: det, size: 256, lo: -1, hi: 1,
			logit: []bool{true, true, false, false}, tol: []float32{0.01, 0.01, 1, 1}},
		// Landmarks in pixels of the 192×192 crop: 0.25 px; face presence: 0.01.
		{model: models.Landmark, input: "input_1", outputs: []string{"conv2d_21", "conv2d_31"}, size: 192, nchw: true, lo: 0, hi: 1,
			logit: []bool{false, true}, tol: []float32{0.25, 0.01}},
		// Face Landmarker v2 points in pixels of the 256×256 crop: 0.25 px; presence 0.01.
		{model: models.LandmarkV2, input: "input_12", outputs: []string{"Identity", "Identity_1"}, size: 256, nchw: true, lo: 0, hi: 1,
			logit: []bool{false, true}, tol: []float32{0.25, 0.01}},
	}
}

var photos = []string{"kj_test1.jpg", "kj_test2.jpg", "bf_Test1.jpg"}

// loadCrop decodes a photo and returns its centred square crop resized to
// size×size, as float32 in [lo, hi], NCHW or NHWC.
func loadCrop(tb testing.TB, name string, size int, nchw bool, lo, hi float32) []float32 {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	require.NoError(tb, err)
	defer f.Close()
	img, _, err := image.Decode(f)
	require.NoError(tb, err)
	b := img.Bounds()
	side := min(b.Dx(), b.Dy())
	x0, y0 := b.Min.X+(b.Dx()-side)/2, b.Min.Y+(b.Dy()-side)/2
	out := make([]float32, 3*size*size)
	scale := float64(side) / float64(size)
	for y := range size {
		for x := range size {
			// Box filter over the source pixels of this output pixel.
			sx0, sy0 := x0+int(float64(x)*scale), y0+int(float64(y)*scale)
			sx1, sy1 := max(x0+int(float64(x+1)*scale), sx0+1), max(y0+int(float64(y+1)*scale), sy0+1)
			var acc [3]float64
			for sy := sy0; sy < sy1; sy++ {
				for sx := sx0; sx < sx1; sx++ {
					c := color.NRGBAModel.Convert(img.At(sx, sy)).(color.NRGBA)
					acc[0] += float64(c.R)
					acc[1] += float64(c.G)
					acc[2] += float64(c.B)
				}
			}
			n := float64((sx1 - sx0) * (sy1 - sy0))
			for ch := range 3 {
				v := lo + (hi-lo)*float32(acc[ch]/n/255)
				if nchw {
					out[ch*size*size+y*size+x] = v
				} else {
					out[(y*size+x)*3+ch] = v
				}
			}
		}
	}
	return out
}

// session runs one ONNX model on the CPU with one thread.
type session struct {
	s  *ort.DynamicAdvancedSession
	sp spec
}

func newSession(tb testing.TB, onnx []byte, sp spec, optimized string) *session {
	tb.Helper()
	orttest.Require(tb)
	opts, err := ort.NewSessionOptions()
	require.NoError(tb, err)
	defer opts.Destroy()
	require.NoError(tb, opts.SetIntraOpNumThreads(1))
	require.NoError(tb, opts.SetInterOpNumThreads(1))
	if optimized != "" {
		require.NoError(tb, opts.SetOptimizedModelFilePath(optimized))
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(onnx, []string{sp.input}, sp.outputs, opts)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Destroy() })
	return &session{s: s, sp: sp}
}

// run feeds a batch (items concatenated) and returns each output's data
// and shape.
func (s *session) run(tb testing.TB, batch int, data []float32) ([][]float32, []ort.Shape) {
	tb.Helper()
	shape := ort.NewShape(int64(batch), int64(s.sp.size), int64(s.sp.size), 3)
	if s.sp.nchw {
		shape = ort.NewShape(int64(batch), 3, int64(s.sp.size), int64(s.sp.size))
	}
	in, err := ort.NewTensor(shape, data)
	require.NoError(tb, err)
	defer in.Destroy()
	outs := make([]ort.Value, len(s.sp.outputs))
	require.NoError(tb, s.s.Run([]ort.Value{in}, outs))
	res := make([][]float32, len(outs))
	shapes := make([]ort.Shape, len(outs))
	for i, o := range outs {
		t, ok := o.(*ort.Tensor[float32])
		require.True(tb, ok, "output %s is %T", s.sp.outputs[i], o)
		res[i] = append([]float32(nil), t.GetData()...)
		shapes[i] = t.GetShape()
		_ = o.Destroy()
	}
	return res, shapes
}

func sigmoid(x []float32) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(1 / (1 + math.Exp(-float64(v))))
	}
	return out
}

func maxAbsDiff(a, b []float32) float32 {
	var m float32
	for i := range a {
		d := float32(math.Abs(float64(a[i] - b[i])))
		if d > m || math.IsNaN(float64(d)) {
			m = d
		}
	}
	return m
}

func convertPack(tb testing.TB, m models.Model) (fp32, fp16 []byte) {
	tb.Helper()
	fp32, err := models.ONNX(m, models.FP32)
	require.NoError(tb, err)
	fp16, _, err = onnxfp16.Convert(fp32, onnxfp16.Options{})
	require.NoError(tb, err)
	return fp32, fp16
}

// TestORTFP16MatchesFP32 runs each model and its conversion through ONNX
// Runtime on real photos, with batch 1 and batch 3.
func TestORTFP16MatchesFP32(t *testing.T) {
	t.Parallel()
	for _, sp := range specs() {
		t.Run(string(sp.model), func(t *testing.T) {
			t.Parallel()
			fp32, fp16 := convertPack(t, sp.model)
			s32 := newSession(t, fp32, sp, "")
			s16 := newSession(t, fp16, sp, "")
			var items [][]float32
			var all []float32
			for _, p := range photos {
				x := loadCrop(t, p, sp.size, sp.nchw, sp.lo, sp.hi)
				items = append(items, x)
				all = append(all, x...)
			}
			per16 := make([][][]float32, len(items))
			for i, x := range items {
				o32, sh32 := s32.run(t, 1, x)
				o16, sh16 := s16.run(t, 1, x)
				require.Equal(t, sh32, sh16)
				per16[i] = o16
				for k := range o32 {
					a, b := o32[k], o16[k]
					if sp.logit[k] {
						a, b = sigmoid(a), sigmoid(b)
					}
					d := maxAbsDiff(a, b)
					t.Logf("%s %s: max |fp32-fp16| = %.4g (sigmoid: %v)", photos[i], sp.outputs[k], d, sp.logit[k])
					require.LessOrEqual(t, d, sp.tol[k], "%s %s: fp16 drifted from fp32", photos[i], sp.outputs[k])
				}
			}

			// Batch 3 gives each item's batch-1 result.
			b16, shapes := s16.run(t, len(items), all)
			for k, o := range b16 {
				require.Equal(t, int64(len(items)), shapes[k][0], "output %s batch dim", sp.outputs[k])
				n := len(o) / len(items)
				for i := range items {
					d := maxAbsDiff(o[i*n:(i+1)*n], per16[i][k])
					t.Logf("batch item %d %s: max |batch3-batch1| = %.4g", i, sp.outputs[k], d)
					require.LessOrEqual(t, d, float32(batchTol), "item %d output %s", i, sp.outputs[k])
				}
			}
		})
	}
}

// batchTol bounds |batch-3 − batch-1| per item of the FP16 graphs.
const batchTol = 0

func TestMain(m *testing.M) {
	code := m.Run()
	if ort.IsInitialized() {
		_ = ort.DestroyEnvironment()
	}
	os.Exit(code)
}

// runGeneric runs a test graph with inputs X (float) and I (int64), both
// [1,1,2,2], and returns Y.
func runGeneric(t *testing.T, onnx []byte, x []float32, i []int64) []float32 {
	t.Helper()
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(onnx, []string{"X", "I"}, []string{"Y"}, nil)
	require.NoError(t, err)
	defer s.Destroy()
	xt, err := ort.NewTensor(ort.NewShape(1, 1, 2, 2), x)
	require.NoError(t, err)
	defer xt.Destroy()
	it, err := ort.NewTensor(ort.NewShape(1, 1, 2, 2), i)
	require.NoError(t, err)
	defer it.Destroy()
	outs := []ort.Value{nil}
	require.NoError(t, s.Run([]ort.Value{xt, it}, outs))
	defer outs[0].Destroy()
	return append([]float32(nil), outs[0].(*ort.Tensor[float32]).GetData()...)
}

// runBatch runs a test graph X → Y and returns Y's data and shape.
func runBatch(t *testing.T, onnx []byte, shape []int64, x []float32) ([]float32, []int64) {
	t.Helper()
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(onnx, []string{"X"}, []string{"Y"}, nil)
	require.NoError(t, err)
	defer s.Destroy()
	xt, err := ort.NewTensor(ort.NewShape(shape...), x)
	require.NoError(t, err)
	defer xt.Destroy()
	outs := []ort.Value{nil}
	require.NoError(t, s.Run([]ort.Value{xt}, outs))
	defer outs[0].Destroy()
	y := outs[0].(*ort.Tensor[float32])
	return append([]float32(nil), y.GetData()...), []int64(y.GetShape())
}
