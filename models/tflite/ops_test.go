package tflite_test

import (
	"encoding/binary"
	"math"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/proto"

	"github.com/facefleet/facefleet/models/internal/orttest"
	"github.com/facefleet/facefleet/models/tflite"
)

// Each converted operator runs in ONNX Runtime on inputs whose result is
// worked out by hand from the TFLite (or MediaPipe custom-op) semantics.

// graph builds a one-subgraph model: tensors by name with shapes (and
// constant data), the graph inputs and outputs, and the operators.
type graph struct {
	m     tflite.Model
	index map[string]int32
}

func newGraph() *graph { return &graph{index: map[string]int32{}} }

func (g *graph) tensor(name string, shape []int32, data []byte, typ int8) int32 {
	g.m.Tensors = append(g.m.Tensors, tflite.Tensor{Name: name, Shape: shape, Type: typ, Data: data})
	i := int32(len(g.m.Tensors) - 1)
	g.index[name] = i
	return i
}

func (g *graph) input(name string, shape ...int32) int32 {
	i := g.tensor(name, shape, nil, tflite.TypeFloat32)
	g.m.Inputs = append(g.m.Inputs, i)
	return i
}

func (g *graph) floats(name string, shape []int32, v ...float32) int32 {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return g.tensor(name, shape, b, tflite.TypeFloat32)
}

func (g *graph) ints(name string, v ...int32) int32 {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return g.tensor(name, []int32{int32(len(v))}, b, tflite.TypeInt32)
}

// op appends an operator producing a new activation out of the given shape.
func (g *graph) op(code int32, custom string, opts []byte, out string, shape []int32, ins ...int32) int32 {
	o := g.tensor(out, shape, nil, tflite.TypeFloat32)
	g.m.Operators = append(g.m.Operators, tflite.Operator{Code: code, Custom: custom, Version: 2, CustomOptions: opts, Inputs: ins, Outputs: []int32{o}})
	return o
}

// run converts the graph, keeping output, and runs it on the inputs (in
// ONNX layout: NCHW for 4-D ones); it returns output's values in ONNX
// layout.
func (g *graph) run(t *testing.T, output string, inputs ...[]float32) []float32 {
	t.Helper()
	orttest.Require(t)
	g.m.Outputs = []int32{g.index[output]}
	om, err := tflite.ToONNX(&g.m, tflite.ConvertOptions{GraphName: "test"})
	require.NoError(t, err)
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(om)
	require.NoError(t, err)
	var names []string
	var vals []ort.Value
	for k, idx := range g.m.Inputs {
		tt := g.m.Tensors[idx]
		shape := onnxShape(tt.Shape)
		v, err := ort.NewTensor(shape, inputs[k])
		require.NoError(t, err)
		defer v.Destroy()
		names, vals = append(names, tt.Name), append(vals, v)
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(b, names, []string{output}, nil)
	require.NoError(t, err)
	defer s.Destroy()
	out, err := ort.NewEmptyTensor[float32](onnxShape(g.m.Tensors[g.index[output]].Shape))
	require.NoError(t, err)
	defer out.Destroy()
	require.NoError(t, s.Run(vals, []ort.Value{out}))
	return slices.Clone(out.GetData())
}

func onnxShape(s []int32) ort.Shape {
	if len(s) == 4 {
		return ort.NewShape(int64(s[0]), int64(s[3]), int64(s[1]), int64(s[2]))
	}
	out := make(ort.Shape, len(s))
	for i, d := range s {
		out[i] = int64(d)
	}
	return out
}

func requireClose(t *testing.T, want, got []float32, tol float64) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		require.InDelta(t, want[i], got[i], tol, "element %d: want %v, got %v", i, want, got)
	}
}

// flexMap encodes a FlexBuffers map of numbers and int vectors, all values
// 4 bytes wide (floats are float32), keys sorted as FlexBuffers requires.
func flexMap(attrs map[string]any) []byte {
	const w = 4
	var b []byte
	u32 := func(v uint32) { b = binary.LittleEndian.AppendUint32(b, v) }
	align := func() {
		for len(b)%w != 0 {
			b = append(b, 0)
		}
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	keyAt := map[string]int{}
	for _, k := range keys {
		keyAt[k] = len(b)
		b = append(append(b, k...), 0)
	}
	vecAt := map[string]int{}
	for _, k := range keys {
		if v, ok := attrs[k].([]int32); ok {
			align()
			u32(uint32(len(v)))
			vecAt[k] = len(b)
			for _, x := range v {
				u32(uint32(x))
			}
		}
	}
	align()
	u32(uint32(len(keys)))
	keysVec := len(b)
	for _, k := range keys {
		u32(uint32(len(b) - keyAt[k]))
	}
	u32(uint32(len(b) - keysVec)) // keys vector offset
	u32(w)                        // keys byte width
	u32(uint32(len(keys)))
	m := len(b)
	var types []byte
	for _, k := range keys {
		switch v := attrs[k].(type) {
		case int:
			u32(uint32(int32(v)))
			types = append(types, 1<<2|2) // INT
		case float64:
			u32(math.Float32bits(float32(v)))
			types = append(types, 3<<2|2) // FLOAT
		case []int32:
			u32(uint32(len(b) - vecAt[k]))
			types = append(types, 11<<2|2) // VECTOR_INT
		}
	}
	b = append(b, types...)
	root := len(b)
	b = binary.LittleEndian.AppendUint32(b, uint32(root-m))
	return append(b, 9<<2|2, w) // MAP, root width
}

// TransformLandmarks maps (x, y) through the matrix's first two rows.
func TestTransformLandmarksOp(t *testing.T) {
	// A batch of 2: x' = 2x − y + 10, y' = 3y − 5 (the third column
	// multiplies z = 0), then the quarter turn (x, y) → (−y, x).
	g := newGraph()
	pts := g.input("pts", 2, 1, 1, 6)
	mat := g.input("mat", 2, 1, 1, 16)
	p3 := g.op(tflite.OpReshape, "", nil, "p3", []int32{2, 3, 2}, pts)
	m3 := g.op(tflite.OpReshape, "", nil, "m3", []int32{2, 4, 4}, mat)
	g.op(tflite.OpCustom, "TransformLandmarks", nil, "out", []int32{2, 3, 2}, p3, m3)
	m := []float32{2, -1, 7, 10, 0, 3, 7, -5, 0, 0, 1, 0, 0, 0, 0, 1, 0, -1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}
	got := g.run(t, "out", []float32{1, 2, 3, 4, -1, 0, 1, 2, 3, 4, -1, 0}, m)
	requireClose(t, []float32{10, 1, 12, 7, 8, -5, -2, 1, -4, 3, 0, -1}, got, 1e-6)
}

// Landmarks2TransformMatrix: an axis-aligned 4×2 box, then the same box
// turned 90°, worked out from the op's definition (see custom.go).
func TestLandmarksToTransformMatrixOp(t *testing.T) {
	opts := flexMap(map[string]any{
		"left_rotation_idx": 0, "right_rotation_idx": 1, "output_width": 8, "output_height": 8,
		"scale_x": 1.5, "scale_y": 1.5, "target_rotation_radians": 0.0, "subset_idxs": []int32{0, 1, 2, 3},
	})
	matrix := func(pts []float32) []float32 {
		b := int32(len(pts) / 12)
		g := newGraph()
		in := g.input("pts", b, 1, 1, 12)
		l := g.op(tflite.OpReshape, "", nil, "l", []int32{b, 4, 3}, in)
		g.op(tflite.OpCustom, "Landmarks2TransformMatrix", opts, "t", []int32{b, 4, 4}, l)
		return g.run(t, "t", pts)
	}
	// Box (0,0)–(4,2): θ = 0, centre (2, 1), scale 1.5·4/8 and 1.5·2/8,
	// translation centre − scale · (4, 4).
	box := []float32{0, 0, 9, 4, 0, 9, 4, 2, 9, 0, 2, 9}
	boxT := []float32{0.75, 0, 0, -1, 0, 0.375, 0, -0.5, 0, 0, 1, 0, 0, 0, 0, 1}
	requireClose(t, boxT, matrix(box), 1e-5)
	// The box turned +90° ((x, y) → (−y, x)): r = −90°, centre (−1, 2),
	// linear part rot(90°) · diag(0.75, 0.375) = [[0, −0.375], [0.75, 0]].
	turned := []float32{0, 0, 9, 0, 4, 9, -2, 4, 9, -2, 0, 9}
	turnedT := []float32{0, -0.375, 0, 0.5, 0.75, 0, 0, -1, 0, 0, 1, 0, 0, 0, 0, 1}
	requireClose(t, turnedT, matrix(turned), 1e-5)
	// Both in one batch of 2.
	requireClose(t, append(slices.Clone(boxT), turnedT...), matrix(append(slices.Clone(box), turned...)), 1e-5)
}

// TransformTensorBilinear samples at T·(x+½, y+½) − ½, bilinearly, zero
// outside [0, W−1] × [0, H−1] (GridSample alone would blend with zero
// padding there). The input is linear in x and y, so bilinear sampling
// gives the plane's value exactly.
func TestTransformTensorBilinearOp(t *testing.T) {
	const h, w, ch = 3, 4, 2
	value := func(y, x float64, c int) float32 { return float32(10*y + x + 100*float64(c)) }
	img := make([]float32, 0, ch*h*w) // NCHW
	for c := range ch {
		for y := range h {
			for x := range w {
				img = append(img, value(float64(y), float64(x), c))
			}
		}
	}
	sample := func(m []float32, oh, ow int32) []float32 {
		b := int32(len(m) / 16)
		imgs := slices.Repeat(img, int(b))
		g := newGraph()
		x := g.input("x", b, h, w, ch)
		mat := g.input("mat", b, 1, 1, 16)
		m3 := g.op(tflite.OpReshape, "", nil, "m3", []int32{b, 4, 4}, mat)
		g.op(tflite.OpCustom, "TransformTensorBilinear", flexMap(map[string]any{"output_width": int(ow), "output_height": int(oh)}),
			"out", []int32{b, oh, ow, ch}, x, m3)
		return g.run(t, "out", imgs, m)
	}
	expect := func(oh, ow int, src func(ox, oy float64) (float64, float64)) []float32 {
		var out []float32
		for c := range ch {
			for oy := range oh {
				for ox := range ow {
					sx, sy := src(float64(ox), float64(oy))
					v := float32(0)
					if sx >= 0 && sx <= w-1 && sy >= 0 && sy <= h-1 {
						v = value(sy, sx, c)
					}
					out = append(out, v)
				}
			}
		}
		return out
	}
	// Identity on a 3×5 grid: column 4 lies beyond W−1 = 3 → 0.
	id := []float32{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}
	got := sample(id, 3, 5)
	requireClose(t, expect(3, 5, func(x, y float64) (float64, float64) { return x, y }), got, 1e-5)
	require.Equal(t, float32(0), got[4])
	// Half scale with a shift: src = (0.5(x+½) + 1 − ½, 0.5(y+½) + 0.25 − ½);
	// column 0 of a −0.5 x shift falls at −0.5 → 0.
	half := []float32{0.5, 0, 0, 1, 0, 0.5, 0, 0.25, 0, 0, 1, 0, 0, 0, 0, 1}
	halfSrc := func(x, y float64) (float64, float64) { return 0.5*(x+0.5) + 0.5, 0.5*(y+0.5) - 0.25 }
	got = sample(half, 4, 4)
	requireClose(t, expect(4, 4, halfSrc), got, 1e-5)
	// Both matrices in one batch of 2.
	got = sample(append(slices.Clone(id), half...), 4, 4)
	requireClose(t, append(expect(4, 4, func(x, y float64) (float64, float64) { return x, y }), expect(4, 4, halfSrc)...), got, 1e-5)
	got = sample([]float32{1, 0, 0, -0.5, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, 2, 3)
	requireClose(t, expect(2, 3, func(x, y float64) (float64, float64) { return x - 0.5, y }), got, 1e-5)
	require.Equal(t, float32(0), got[0])
	require.InDelta(t, 0.5, got[1], 1e-6)
}

// RESHAPE of a 4-D NHWC tensor follows TFLite's element order; MUL
// broadcasts a scalar and a per-channel constant; STRIDED_SLICE with masks
// slices NHWC axes.
func TestBuiltinReshapeMulSliceOps(t *testing.T) {
	// NHWC [1, 2, 2, 3] holding 0..11 in NHWC order, fed as NCHW.
	nhwc := make([]float32, 12)
	for i := range nhwc {
		nhwc[i] = float32(i)
	}
	nchwOf := func(v []float32, h, w, c int) []float32 {
		out := make([]float32, len(v))
		for y := range h {
			for x := range w {
				for k := range c {
					out[(k*h+y)*w+x] = v[(y*w+x)*c+k]
				}
			}
		}
		return out
	}
	in := nchwOf(nhwc, 2, 2, 3)

	g := newGraph()
	x := g.input("x", 1, 2, 2, 3)
	flat := g.op(tflite.OpReshape, "", nil, "flat", []int32{1, 12}, x)
	g.op(tflite.OpMul, "", nil, "doubled", []int32{1, 12}, flat, g.floats("two", []int32{1}, 2))
	want := make([]float32, 12)
	for i := range want {
		want[i] = 2 * float32(i)
	}
	requireClose(t, want, g.run(t, "doubled", in), 0)

	// Back to 4-D [1, 3, 2, 2] NHWC (output in NCHW), times per-channel (1, 10).
	g = newGraph()
	x = g.input("x", 1, 2, 2, 3)
	flat = g.op(tflite.OpReshape, "", nil, "flat", []int32{1, 12}, x)
	r := g.op(tflite.OpReshape, "", nil, "r", []int32{1, 3, 2, 2}, flat)
	g.op(tflite.OpMul, "", nil, "scaled", []int32{1, 3, 2, 2}, r, g.floats("per_channel", []int32{2}, 1, 10))
	scaled := make([]float32, 12)
	for i := range scaled {
		scaled[i] = float32(i) * []float32{1, 10}[i%2]
	}
	requireClose(t, nchwOf(scaled, 3, 2, 2), g.run(t, "scaled", in), 0)

	// Slice y 1..2, x 0..2 and every second channel of 0..1.
	g = newGraph()
	x = g.input("x", 1, 2, 2, 3)
	begin, end, strides := g.ints("begin", 0, 1, 0, 0), g.ints("end", 1, 2, 2, 1), g.ints("strides", 1, 1, 1, 2)
	// Without an options table the masks are 0: channels 0..1 step 2 →
	// channel 0.
	g.op(tflite.OpStridedSlice, "", nil, "s", []int32{1, 1, 2, 1}, x, begin, end, strides)
	requireClose(t, []float32{6, 9}, g.run(t, "s", in), 0)

	// A slice of whole axes (as the attention model's output_mesh_identity)
	// is the input.
	g = newGraph()
	x = g.input("x", 1, 2, 2, 3)
	begin, end, strides = g.ints("begin", 0, 0, 0, 0), g.ints("end", 1, 2, 2, 3), g.ints("strides", 1, 1, 1, 1)
	g.op(tflite.OpStridedSlice, "", nil, "s", []int32{1, 2, 2, 3}, x, begin, end, strides)
	requireClose(t, in, g.run(t, "s", in), 0)
}

// A custom operator the converter does not know, another version, or one
// whose options lack a field is a typed ErrUnsupported.
func TestCustomOpErrors(t *testing.T) {
	build := func(custom string, version int32, opts []byte) error {
		g := newGraph()
		in := g.input("pts", 1, 1, 1, 12)
		l := g.op(tflite.OpReshape, "", nil, "l", []int32{1, 4, 3}, in)
		o := g.op(tflite.OpCustom, custom, opts, "t", []int32{1, 4, 4}, l)
		g.m.Operators[len(g.m.Operators)-1].Version = version
		g.m.Outputs = []int32{o}
		_, err := tflite.ToONNX(&g.m, tflite.ConvertOptions{})
		return err
	}
	full := map[string]any{
		"left_rotation_idx": 0, "right_rotation_idx": 1, "output_width": 8, "output_height": 8,
		"scale_x": 1.5, "scale_y": 1.5, "target_rotation_radians": 0.0, "subset_idxs": []int32{0, 1, 2, 3},
	}
	require.NoError(t, build("Landmarks2TransformMatrix", 2, flexMap(full)))
	require.ErrorIs(t, build("MaxPoolingWithArgmax2D", 2, nil), tflite.ErrUnsupported)
	require.ErrorIs(t, build("Landmarks2TransformMatrix", 1, flexMap(full)), tflite.ErrUnsupported)
	delete(full, "scale_y")
	require.ErrorIs(t, build("Landmarks2TransformMatrix", 2, flexMap(full)), tflite.ErrUnsupported)
	full["scale_y"], full["left_rotation_idx"] = 1.5, 9 // beyond the 4 landmarks
	require.ErrorIs(t, build("Landmarks2TransformMatrix", 2, flexMap(full)), tflite.ErrFormat)
}
