package tflite

import (
	"fmt"
	"math"

	"github.com/facefleet/facefleet/models/onnxfp16/onnxpb"
)

// Builtins on tensors of any rank (MUL, RESHAPE, STRIDED_SLICE). 4-D
// values are NCHW in the ONNX graph, every other rank keeps the TFLite
// layout (see onnxDims).

// operand returns the ONNX value of input idx of an elementwise operator
// whose activation operand has shape act: the activation itself, or the
// constant as an initializer laid out to broadcast like the TFLite one.
func (c *converter) operand(idx int32, act []int32, name string) (string, error) {
	if n, ok := c.names[idx]; ok {
		return n, nil
	}
	t := c.m.Tensors[idx]
	v, err := c.constant(idx)
	if err != nil {
		return "", err
	}
	switch {
	case len(v) == 1:
		return c.initializer(name, nil, v), nil
	case len(act) != 4:
		if len(t.Shape) > len(act) {
			return "", fmt.Errorf("%w: constant %q shape %v broadcast to %v", ErrUnsupported, t.Name, t.Shape, act)
		}
		return c.initializer(name, onnxDims(t.Shape), v), nil
	case len(t.Shape) == 1 && t.Shape[0] == act[3]:
		return c.initializer(name, []int64{int64(act[3]), 1, 1}, v), nil
	case len(t.Shape) == 4:
		s := t.Shape
		tv := make([]float32, len(v))
		n, h, w, ch := int(s[0]), int(s[1]), int(s[2]), int(s[3])
		for b := range n {
			for y := range h {
				for x := range w {
					for k := range ch {
						tv[((b*ch+k)*h+y)*w+x] = v[((b*h+y)*w+x)*ch+k]
					}
				}
			}
		}
		return c.initializer(name, nchw(s), tv), nil
	}
	return "", fmt.Errorf("%w: constant %q shape %v broadcast to a 4-D activation", ErrUnsupported, t.Name, t.Shape)
}

func (c *converter) mul(op Operator) error {
	var act []int32
	for _, in := range op.Inputs {
		if _, ok := c.names[in]; ok {
			act = c.m.Tensors[in].Shape
		}
	}
	if act == nil {
		return fmt.Errorf("%w: MUL of two constants", ErrUnsupported)
	}
	out := c.m.Tensors[op.Outputs[0]].Name
	a, err := c.operand(op.Inputs[0], act, out+"/a")
	if err != nil {
		return err
	}
	b, err := c.operand(op.Inputs[1], act, out+"/b")
	if err != nil {
		return err
	}
	act2, err := op.addActivation()
	if err != nil {
		return err
	}
	pre, out := c.result(op, act2)
	c.node("Mul", []string{a, b}, pre, nil)
	return c.fused(act2, pre, out)
}

// reshape follows the static output shape; 4-D sides whose NCHW order
// differs from NHWC go through a transpose.
func (c *converter) reshape(op Operator) error {
	x, err := c.activation(op.Inputs[0])
	if err != nil {
		return err
	}
	in, outShape := c.m.Tensors[op.Inputs[0]].Shape, c.m.Tensors[op.Outputs[0]].Shape
	name := c.m.Tensors[op.Outputs[0]].Name
	if len(in) == 4 && !sameOrderNCHW(in) {
		c.node("Transpose", []string{x}, name+"/nhwc", []*onnxpb.AttributeProto{attrInts("perm", 0, 2, 3, 1)})
		x = name + "/nhwc"
	}
	target := make([]int64, len(outShape))
	for i, d := range outShape {
		target[i] = int64(d)
	}
	_, out := c.result(op, actNone)
	if len(outShape) == 4 && !sameOrderNCHW(outShape) {
		c.node("Reshape", []string{x, c.int64Initializer(name+"/shape", target)}, name+"/reshaped", nil)
		c.node("Transpose", []string{name + "/reshaped"}, out, []*onnxpb.AttributeProto{attrInts("perm", 0, 3, 1, 2)})
		return nil
	}
	c.node("Reshape", []string{x, c.int64Initializer(name+"/shape", onnxDims(outShape))}, out, nil)
	return nil
}

// nchwAxis maps an NHWC axis to its NCHW position.
var nchwAxis = [4]int64{0, 2, 3, 1}

// stridedSlice supports constant begin/end/strides with begin and end
// masks (no ellipsis, new or shrunk axes); a slice of whole axes is an
// Identity.
func (c *converter) stridedSlice(op Operator) error {
	if len(op.Inputs) != 4 {
		return fmt.Errorf("%w: STRIDED_SLICE with %d inputs", ErrFormat, len(op.Inputs))
	}
	x, err := c.activation(op.Inputs[0])
	if err != nil {
		return err
	}
	o, err := op.stridedSlice()
	if err != nil {
		return err
	}
	if o.ellipsisMask != 0 || o.newAxisMask != 0 || o.shrinkAxisMask != 0 || o.offset != 0 {
		return fmt.Errorf("%w: STRIDED_SLICE masks ellipsis %d new %d shrink %d offset %d", ErrUnsupported, o.ellipsisMask, o.newAxisMask, o.shrinkAxisMask, o.offset)
	}
	shape := c.m.Tensors[op.Inputs[0]].Shape
	var vals [3][]int32
	for k := range vals {
		if vals[k], err = c.m.Tensors[op.Inputs[1+k]].Ints(); err != nil {
			return err
		}
		if len(vals[k]) != len(shape) {
			return fmt.Errorf("%w: STRIDED_SLICE of rank %d with %d indices", ErrUnsupported, len(shape), len(vals[k]))
		}
	}
	var starts, ends, axes, steps []int64
	for i := range shape {
		b, e, st := int64(vals[0][i]), int64(vals[1][i]), int64(vals[2][i])
		if st == 0 {
			return fmt.Errorf("%w: STRIDED_SLICE stride 0", ErrFormat)
		}
		// An axis taken whole is left out, so the graph does not pin its
		// size (a batch of 1 stays any batch).
		whole := st == 1 && (b == 0 || o.beginMask&(1<<i) != 0) && (e == int64(shape[i]) || o.endMask&(1<<i) != 0)
		if whole {
			continue
		}
		if o.beginMask&(1<<i) != 0 {
			b = 0
			if st < 0 {
				b = math.MaxInt64
			}
		}
		if o.endMask&(1<<i) != 0 {
			e = math.MaxInt64
			if st < 0 {
				e = math.MinInt64
			}
		}
		axis := int64(i)
		if len(shape) == 4 {
			axis = nchwAxis[i]
		}
		starts, ends, axes, steps = append(starts, b), append(ends, e), append(axes, axis), append(steps, st)
	}
	name := c.m.Tensors[op.Outputs[0]].Name
	_, out := c.result(op, actNone)
	if len(axes) == 0 {
		c.node("Identity", []string{x}, out, nil)
		return nil
	}
	c.node("Slice", []string{x, c.int64Initializer(name+"/starts", starts), c.int64Initializer(name+"/ends", ends),
		c.int64Initializer(name+"/axes", axes), c.int64Initializer(name+"/steps", steps)}, out, nil)
	return nil
}
