package tflite

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"

	"github.com/facefleet/facefleet/models/onnxfp16/onnxpb"
)

// MediaPipe's custom operators (mediapipe/util/tflite/operations), as used
// by face_landmark_with_attention.tflite, written as ONNX subgraphs of
// standard operators. Their semantics, restated:
//
// Landmarks2TransformMatrix (version 2) takes landmarks L [B, N, 3] and
// returns the 4×4 matrix T that maps output-grid pixels (x, y) of an
// output_width × output_height crop to L's pixel space: with θ the angle of
// L[right_rotation_idx] − L[left_rotation_idx] and r = target − θ, the
// subset points' (x, y) are rotated by r, their bounding box gives the size
// (w, h) and, rotated back by −r, the centre (cx, cy); then
// T = shift(cx, cy) · rot(−r) · scale(scale_x·w/output_width,
// scale_y·h/output_height) · shift(−output_width/2, −output_height/2).
//
// TransformTensorBilinear (version 2) samples its NHWC input at
// T · (x + ½, y + ½) − ½ for every output pixel (x, y), bilinearly, with a
// zero result where that point lies outside [0, W−1] × [0, H−1].
//
// TransformLandmarks (version 2) maps each (x, y) of [B, N, 2] through T's
// first two rows.

func (c *converter) custom(op Operator) error {
	if len(op.Outputs) != 1 {
		return fmt.Errorf("%w: custom operator %s with %d outputs", ErrUnsupported, op.Custom, len(op.Outputs))
	}
	if op.Version != 2 {
		return fmt.Errorf("%w: custom operator %s version %d (want 2)", ErrUnsupported, op.Custom, op.Version)
	}
	switch op.Custom {
	case "Landmarks2TransformMatrix":
		return c.landmarksToTransformMatrix(op)
	case "TransformTensorBilinear":
		return c.transformTensorBilinear(op)
	case "TransformLandmarks":
		return c.transformLandmarks(op)
	}
	return fmt.Errorf("%w: custom operator %q", ErrUnsupported, op.Custom)
}

// inputs checks a custom operator's input count and returns their ONNX
// activation names.
func (c *converter) inputs(op Operator, n int) ([]string, error) {
	if len(op.Inputs) != n {
		return nil, fmt.Errorf("%w: %s with %d inputs (want %d)", ErrFormat, op.Custom, len(op.Inputs), n)
	}
	out := make([]string, n)
	for i, in := range op.Inputs {
		var err error
		if out[i], err = c.activation(in); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// tmp names an intermediate value of the subgraph computing out.
func tmp(out, what string) string { return out + "/" + what }

// affineColumns turns a [B, 4, 4] transform T into the [B, 3, 2] matrix A
// with (x', y') = (x, y, 1) · A: rows (T00, T10), (T01, T11), (T03, T13).
func (c *converter) affineColumns(t, out string) string {
	c.node("Reshape", []string{t, c.int64Initializer(tmp(out, "t16_shape"), []int64{-1, 16})}, tmp(out, "t16"), nil)
	c.node("Gather", []string{tmp(out, "t16"), c.int64Initializer(tmp(out, "affine_idx"), []int64{0, 4, 1, 5, 3, 7})}, tmp(out, "affine6"), []*onnxpb.AttributeProto{attrInt("axis", 1)})
	c.node("Reshape", []string{tmp(out, "affine6"), c.int64Initializer(tmp(out, "affine_shape"), []int64{-1, 3, 2})}, tmp(out, "affine"), nil)
	return tmp(out, "affine")
}

// The subgraphs keep the batch dimension B (any size) in front.

func (c *converter) landmarksToTransformMatrix(op Operator) error {
	in, err := c.inputs(op, 1)
	if err != nil {
		return err
	}
	shape := c.m.Tensors[op.Inputs[0]].Shape
	if len(shape) != 3 || shape[2] < 2 {
		return fmt.Errorf("%w: Landmarks2TransformMatrix input shape %v (want [B, N, ≥2])", ErrUnsupported, shape)
	}
	a, err := flexMap(op.CustomOptions)
	if err != nil {
		return err
	}
	var left, right, ow, oh, sx, sy, target float64
	for k, dst := range map[string]*float64{
		"left_rotation_idx": &left, "right_rotation_idx": &right, "output_width": &ow, "output_height": &oh,
		"scale_x": &sx, "scale_y": &sy, "target_rotation_radians": &target,
	} {
		if *dst, err = a.number(k); err != nil {
			return err
		}
	}
	subset, err := a.numbers("subset_idxs")
	if err != nil {
		return err
	}
	n := int64(shape[1])
	idx := make([]int64, len(subset))
	for i, v := range subset {
		idx[i] = int64(v)
	}
	for _, v := range append(idx, int64(left), int64(right)) {
		if v < 0 || v >= n {
			return fmt.Errorf("%w: Landmarks2TransformMatrix index %d of %d landmarks", ErrFormat, v, n)
		}
	}
	if len(idx) == 0 || ow <= 0 || oh <= 0 || sx <= 0 || sy <= 0 {
		return fmt.Errorf("%w: Landmarks2TransformMatrix options %v", ErrFormat, a)
	}
	out := c.m.Tensors[op.Outputs[0]].Name
	c.names[op.Outputs[0]] = out
	f := func(name string, dims []int64, v ...float32) string { return c.initializer(tmp(out, name), dims, v) }
	axis := func(v int64) []*onnxpb.AttributeProto { return []*onnxpb.AttributeProto{attrInt("axis", v)} }
	reduce := []*onnxpb.AttributeProto{attrInts("axes", 1), attrInt("keepdims", 1)}
	transpose := []*onnxpb.AttributeProto{attrInts("perm", 0, 2, 1)}

	// xy [B, N, 2]: the landmarks' x and y.
	c.node("Gather", []string{in[0], c.int64Initializer(tmp(out, "xy_idx"), []int64{0, 1})}, tmp(out, "xy"), axis(2))
	// (cos θ, sin θ) of right − left, then (cos r, sin r) for r = target − θ;
	// rows [B, 1, 2].
	c.node("Gather", []string{tmp(out, "xy"), c.int64Initializer(tmp(out, "rot_idx"), []int64{int64(left), int64(right)})}, tmp(out, "rot_pts"), axis(1))
	c.node("MatMul", []string{f("diff", []int64{1, 2}, -1, 1), tmp(out, "rot_pts")}, tmp(out, "d"), nil)
	c.node("Mul", []string{tmp(out, "d"), tmp(out, "d")}, tmp(out, "d_sq"), nil)
	c.node("ReduceSum", []string{tmp(out, "d_sq"), c.int64Initializer(tmp(out, "d_axes"), []int64{2})}, tmp(out, "d_sq_sum"), nil)
	c.node("Sqrt", []string{tmp(out, "d_sq_sum")}, tmp(out, "d_norm"), nil)
	c.node("Div", []string{tmp(out, "d"), tmp(out, "d_norm")}, tmp(out, "u"), nil)
	ct, st := float32(math.Cos(target)), float32(math.Sin(target))
	c.node("MatMul", []string{tmp(out, "u"), f("angle", []int64{2, 2}, ct, st, st, -ct)}, tmp(out, "cs"), nil)
	// rt = [[cos r, sin r], [−sin r, cos r]]: row vectors times rt rotate by
	// r; rt is also rot(−r) as a column-vector matrix.
	c.node("MatMul", []string{tmp(out, "cs"), f("rt_basis", []int64{2, 4}, 1, 0, 0, 1, 0, 1, -1, 0)}, tmp(out, "rt4"), nil)
	c.node("Reshape", []string{tmp(out, "rt4"), c.int64Initializer(tmp(out, "rt_shape"), []int64{-1, 2, 2})}, tmp(out, "rt"), nil)
	// The subset rotated by r: its box size and centre.
	c.node("Gather", []string{tmp(out, "xy"), c.int64Initializer(tmp(out, "subset_idx"), idx)}, tmp(out, "subset"), axis(1))
	c.node("MatMul", []string{tmp(out, "subset"), tmp(out, "rt")}, tmp(out, "rotated"), nil)
	c.node("ReduceMax", []string{tmp(out, "rotated")}, tmp(out, "hi"), reduce)
	c.node("ReduceMin", []string{tmp(out, "rotated")}, tmp(out, "lo"), reduce)
	c.node("Sub", []string{tmp(out, "hi"), tmp(out, "lo")}, tmp(out, "size"), nil)
	c.node("Add", []string{tmp(out, "hi"), tmp(out, "lo")}, tmp(out, "sum"), nil)
	c.node("Mul", []string{tmp(out, "sum"), f("half", nil, 0.5)}, tmp(out, "mid_rotated"), nil)
	// Back by −r: row vector times rt's transpose.
	c.node("Transpose", []string{tmp(out, "rt")}, tmp(out, "r"), transpose)
	c.node("MatMul", []string{tmp(out, "mid_rotated"), tmp(out, "r")}, tmp(out, "centre"), nil)
	// Linear part rot(−r) · diag(sx, sy) and translation
	// centre − linear · (ow/2, oh/2).
	c.node("Mul", []string{tmp(out, "size"), f("scale", []int64{1, 2}, float32(sx/ow), float32(sy/oh))}, tmp(out, "s"), nil)
	c.node("Mul", []string{tmp(out, "rt"), tmp(out, "s")}, tmp(out, "linear"), nil)
	c.node("MatMul", []string{tmp(out, "linear"), f("half_out", []int64{2, 1}, float32(ow/2), float32(oh/2))}, tmp(out, "offset"), nil)
	c.node("Transpose", []string{tmp(out, "centre")}, tmp(out, "centre_col"), transpose)
	c.node("Sub", []string{tmp(out, "centre_col"), tmp(out, "offset")}, tmp(out, "shift"), nil)
	// Rows 0–1 [linear | 0 | shift], rows 2–3 (0, 0, 1, 0), (0, 0, 0, 1);
	// the zeros are made from the batch's values so they carry B.
	zero := f("zero", nil, 0)
	c.node("Mul", []string{tmp(out, "shift"), zero}, tmp(out, "zero_col"), nil)
	c.node("Concat", []string{tmp(out, "linear"), tmp(out, "zero_col"), tmp(out, "shift")}, tmp(out, "rows01"), axis(2))
	c.node("Mul", []string{tmp(out, "rows01"), zero}, tmp(out, "zero_rows"), nil)
	c.node("Add", []string{tmp(out, "zero_rows"), f("rows23", []int64{2, 4}, 0, 0, 1, 0, 0, 0, 0, 1)}, tmp(out, "rows23b"), nil)
	c.node("Concat", []string{tmp(out, "rows01"), tmp(out, "rows23b")}, out, axis(1))
	return nil
}

func (c *converter) transformTensorBilinear(op Operator) error {
	in, err := c.inputs(op, 2)
	if err != nil {
		return err
	}
	xs, ts := c.m.Tensors[op.Inputs[0]].Shape, c.m.Tensors[op.Inputs[1]].Shape
	ys := c.m.Tensors[op.Outputs[0]].Shape
	if len(xs) != 4 || len(ts) != 3 || ts[1] != 4 || ts[2] != 4 || len(ys) != 4 || ys[3] != xs[3] {
		return fmt.Errorf("%w: TransformTensorBilinear shapes %v, %v → %v", ErrUnsupported, xs, ts, ys)
	}
	a, err := flexMap(op.CustomOptions)
	if err != nil {
		return err
	}
	ow, err := a.number("output_width")
	if err != nil {
		return err
	}
	oh, err := a.number("output_height")
	if err != nil {
		return err
	}
	if int32(ow) != ys[2] || int32(oh) != ys[1] {
		return fmt.Errorf("%w: TransformTensorBilinear output %v×%v for tensor %v", ErrFormat, ow, oh, ys)
	}
	h, w := int64(xs[1]), int64(xs[2])
	if h < 2 || w < 2 {
		return fmt.Errorf("%w: TransformTensorBilinear input %v", ErrUnsupported, xs)
	}
	c.opset = max(c.opset, gridSampleOpset)
	out := c.m.Tensors[op.Outputs[0]].Name
	c.names[op.Outputs[0]] = out
	ohi, owi := int64(ys[1]), int64(ys[2])
	// Output pixel centres (x + ½, y + ½, 1), row-major.
	grid := make([]float32, 0, 3*ohi*owi)
	for y := range ohi {
		for x := range owi {
			grid = append(grid, float32(x)+0.5, float32(y)+0.5, 1)
		}
	}
	f := func(name string, dims []int64, v ...float32) string { return c.initializer(tmp(out, name), dims, v) }
	affine := c.affineColumns(in[1], out)
	c.node("MatMul", []string{f("centres", []int64{ohi * owi, 3}, grid...), affine}, tmp(out, "mapped"), nil)
	c.node("Sub", []string{tmp(out, "mapped"), f("half", nil, 0.5)}, tmp(out, "src"), nil)
	// Inside [0, W−1] × [0, H−1]: both coordinates in range.
	c.node("GreaterOrEqual", []string{tmp(out, "src"), f("lo", nil, 0)}, tmp(out, "ge"), nil)
	c.node("LessOrEqual", []string{tmp(out, "src"), f("hi", []int64{2}, float32(w-1), float32(h-1))}, tmp(out, "le"), nil)
	c.node("And", []string{tmp(out, "ge"), tmp(out, "le")}, tmp(out, "inside2"), nil)
	c.node("Cast", []string{tmp(out, "inside2")}, tmp(out, "inside2f"), []*onnxpb.AttributeProto{attrInt("to", onnxFloat)})
	c.node("ReduceMin", []string{tmp(out, "inside2f")}, tmp(out, "inside"), []*onnxpb.AttributeProto{attrInts("axes", 2), attrInt("keepdims", 1)})
	c.node("Reshape", []string{tmp(out, "inside"), c.int64Initializer(tmp(out, "mask_shape"), []int64{-1, 1, ohi, owi})}, tmp(out, "mask"), nil)
	// GridSample with align_corners: −1 and 1 are the centres of the first
	// and last pixels, so x ↦ 2x/(W−1) − 1.
	c.node("Mul", []string{tmp(out, "src"), f("norm", []int64{2}, float32(2/float64(w-1)), float32(2/float64(h-1)))}, tmp(out, "src2"), nil)
	c.node("Sub", []string{tmp(out, "src2"), f("one", nil, 1)}, tmp(out, "gridn"), nil)
	c.node("Reshape", []string{tmp(out, "gridn"), c.int64Initializer(tmp(out, "grid_shape"), []int64{-1, ohi, owi, 2})}, tmp(out, "grid"), nil)
	c.n++
	c.g.Node = append(c.g.Node, &onnxpb.NodeProto{
		Name: proto.String(fmt.Sprintf("GridSample_%d", c.n)), OpType: proto.String("GridSample"),
		Input: []string{in[0], tmp(out, "grid")}, Output: []string{tmp(out, "sampled")},
		Attribute: []*onnxpb.AttributeProto{attrInt("align_corners", 1), attrString("mode", "bilinear"), attrString("padding_mode", "zeros")},
	})
	// GridSample's output type, for tools that propagate element types.
	c.g.ValueInfo = append(c.g.ValueInfo, valueInfo(tmp(out, "sampled"), onnxDims(ys)))
	c.node("Mul", []string{tmp(out, "sampled"), tmp(out, "mask")}, out, nil)
	return nil
}

func (c *converter) transformLandmarks(op Operator) error {
	in, err := c.inputs(op, 2)
	if err != nil {
		return err
	}
	ls, ts := c.m.Tensors[op.Inputs[0]].Shape, c.m.Tensors[op.Inputs[1]].Shape
	if len(ls) != 3 || ls[2] != 2 || len(ts) != 3 || ts[1] != 4 || ts[2] != 4 {
		return fmt.Errorf("%w: TransformLandmarks shapes %v, %v (want [B, N, 2] and [B, 4, 4])", ErrUnsupported, ls, ts)
	}
	out := c.m.Tensors[op.Outputs[0]].Name
	c.names[op.Outputs[0]] = out
	affine := c.affineColumns(in[1], out)
	// (x, y, 1) per landmark; the ones are made from x so they carry B.
	c.node("Gather", []string{in[0], c.int64Initializer(tmp(out, "x_idx"), []int64{0})}, tmp(out, "x"), []*onnxpb.AttributeProto{attrInt("axis", 2)})
	c.node("Mul", []string{tmp(out, "x"), c.initializer(tmp(out, "zero"), nil, []float32{0})}, tmp(out, "zeros"), nil)
	c.node("Add", []string{tmp(out, "zeros"), c.initializer(tmp(out, "one"), nil, []float32{1})}, tmp(out, "ones"), nil)
	c.node("Concat", []string{in[0], tmp(out, "ones")}, tmp(out, "xy1"), []*onnxpb.AttributeProto{attrInt("axis", 2)})
	c.node("MatMul", []string{tmp(out, "xy1"), affine}, out, nil)
	return nil
}
