package tflite

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"

	"github.com/facefleet/facefleet/models/onnxfp16/onnxpb"
)

// ONNX element types used by the converter.
const (
	onnxFloat = 1
	onnxInt64 = 7
)

// onnxOpset is the ONNX opset a graph is written for (Pad with its pads
// as an input, as the FP16 converter and ONNX Runtime expect); a graph
// that needs GridSample (MediaPipe's TransformTensorBilinear) is written
// for gridSampleOpset.
const (
	onnxOpset       = 13
	gridSampleOpset = 16
)

// ConvertOptions names the ONNX graph's outputs. Inputs keep their TFLite
// names; outputs too unless renamed here.
type ConvertOptions struct {
	// GraphName is the ONNX graph name (default: the description).
	GraphName string
	// Producer is recorded as the ONNX producer name.
	Producer string
	// Outputs, when set, keeps only these graph outputs (by TFLite name)
	// and the operators they depend on.
	Outputs []string
}

// converter builds the ONNX graph. TFLite activations are NHWC; the ONNX
// graph is NCHW throughout: the input is declared [N, C, H, W], every 4-D
// constant is transposed, and shape-dependent attributes (SAME padding,
// pads) are computed from the TFLite shapes.
type converter struct {
	m      *Model
	g      *onnxpb.GraphProto
	consts map[int32][]float32 // dequantized float constants by tensor index
	names  map[int32]string    // ONNX value name per tensor index
	n      int
	opset  int64
}

// ToONNX converts m (a float graph of the supported operators on 4-D NHWC
// activations) to an ONNX model with NCHW activations.
func ToONNX(m *Model, o ConvertOptions) (*onnxpb.ModelProto, error) {
	c := &converter{m: m, g: &onnxpb.GraphProto{}, consts: map[int32][]float32{}, names: map[int32]string{}, opset: onnxOpset}
	name := o.GraphName
	if name == "" {
		name = m.Description
	}
	c.g.Name = proto.String(name)
	for _, in := range m.Inputs {
		t := m.Tensors[in]
		if t.Type != TypeFloat32 || len(t.Shape) != 4 {
			return nil, fmt.Errorf("%w: input %q is type %d shape %v (want float32 NHWC)", ErrUnsupported, t.Name, t.Type, t.Shape)
		}
		c.names[in] = t.Name
		c.g.Input = append(c.g.Input, valueInfo(t.Name, nchw(t.Shape)))
	}
	outputs := m.Outputs
	if len(o.Outputs) > 0 {
		outputs = nil
		for _, name := range o.Outputs {
			found := false
			for _, idx := range m.Outputs {
				if m.Tensors[idx].Name == name {
					outputs, found = append(outputs, idx), true
				}
			}
			if !found {
				return nil, fmt.Errorf("%w: no graph output %q", ErrFormat, name)
			}
		}
	}
	needed := neededOperators(m, outputs)
	for i, op := range m.Operators {
		if !needed[i] {
			continue
		}
		if err := c.op(op); err != nil {
			return nil, fmt.Errorf("operator %d: %w", i, err)
		}
	}
	for _, out := range outputs {
		t := m.Tensors[out]
		n, ok := c.names[out]
		if !ok {
			return nil, fmt.Errorf("%w: output %q is not an activation", ErrUnsupported, t.Name)
		}
		if n != t.Name {
			c.node("Identity", []string{n}, t.Name, nil)
		}
		c.g.Output = append(c.g.Output, valueInfo(t.Name, onnxDims(t.Shape)))
	}
	producer := o.Producer
	if producer == "" {
		producer = "facefleet models/tflite"
	}
	return &onnxpb.ModelProto{
		IrVersion:    proto.Int64(7),
		ProducerName: proto.String(producer),
		OpsetImport:  []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(c.opset)}},
		Graph:        c.g,
	}, nil
}

// neededOperators marks the operators the given output tensors depend on.
func neededOperators(m *Model, outputs []int32) []bool {
	producer := map[int32]int{}
	for i, op := range m.Operators {
		for _, o := range op.Outputs {
			producer[o] = i
		}
	}
	needed := make([]bool, len(m.Operators))
	stack := append([]int32(nil), outputs...)
	for len(stack) > 0 {
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		i, ok := producer[t]
		if !ok || needed[i] {
			continue
		}
		needed[i] = true
		for _, in := range m.Operators[i].Inputs {
			if in >= 0 {
				stack = append(stack, in)
			}
		}
	}
	return needed
}

func nchw(s []int32) []int64 {
	return []int64{int64(s[0]), int64(s[3]), int64(s[1]), int64(s[2])}
}

// onnxDims is the ONNX shape of a TFLite activation: NCHW for 4-D ones,
// unchanged otherwise (non-4-D values keep the TFLite layout).
func onnxDims(s []int32) []int64 {
	if len(s) == 4 {
		return nchw(s)
	}
	out := make([]int64, len(s))
	for i, d := range s {
		out[i] = int64(d)
	}
	return out
}

// sameOrderNCHW reports whether a 4-D NHWC tensor of shape s has the same
// element order as its NCHW form (C = 1 or H·W = 1), so a reshape needs no
// transpose.
func sameOrderNCHW(s []int32) bool {
	return len(s) == 4 && (s[3] == 1 || s[1]*s[2] == 1)
}

func valueInfo(name string, dims []int64) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	return &onnxpb.ValueInfoProto{
		Name: proto.String(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(onnxFloat), Shape: shape}}},
	}
}

func attrInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: proto.Int32(7), Ints: v}
}

func attrString(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: proto.Int32(3), S: []byte(v)}
}

func attrInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: proto.Int32(2), I: proto.Int64(v)}
}

func (c *converter) node(op string, in []string, out string, attrs []*onnxpb.AttributeProto) {
	c.n++
	c.g.Node = append(c.g.Node, &onnxpb.NodeProto{
		Name: proto.String(fmt.Sprintf("%s_%d", op, c.n)), OpType: proto.String(op),
		Input: in, Output: []string{out}, Attribute: attrs,
	})
}

// prelu writes PReLU(x) with per-channel slopes alpha as
// Relu(x) + alpha·(x − Relu(x)): the same values bit for bit (x > 0 gives
// x + alpha·0, x ≤ 0 gives 0 + alpha·x), in four plain ops. ORT's CPU
// provider has no NCHWc PRelu: its kernel ran 57 % of Face Landmarker v2's
// time on a real face crop (2.3× its time on zeros) and forced a layout
// reorder around every PReLU; the four ops make the network about twice as
// fast there. onnxfp16.FusePRelu turns them back into one PRelu for the
// GPU files. The four nodes share one "PRelu_<n>" name stem.
func (c *converter) prelu(x, alpha, out string) {
	c.n++
	stem := fmt.Sprintf("PRelu_%d", c.n)
	pos, neg, scaled := out+preluRelu, out+preluNeg, out+preluScaled
	for _, n := range []struct {
		op, name string
		in       []string
		out      string
	}{
		{"Relu", stem + preluRelu, []string{x}, pos},
		{"Sub", stem + preluNeg, []string{x, pos}, neg},
		{"Mul", stem + preluScaled, []string{neg, alpha}, scaled},
		{"Add", stem, []string{pos, scaled}, out},
	} {
		c.g.Node = append(c.g.Node, &onnxpb.NodeProto{
			Name: proto.String(n.name), OpType: proto.String(n.op), Input: n.in, Output: []string{n.out},
		})
	}
}

// Suffixes of the tensors and nodes of a PReLU written by prelu.
const (
	preluRelu   = "/relu"
	preluNeg    = "/neg"
	preluScaled = "/scaled"
)

func (c *converter) initializer(name string, dims []int64, vals []float32) string {
	raw := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	c.g.Initializer = append(c.g.Initializer, &onnxpb.TensorProto{Name: proto.String(name), Dims: dims, DataType: proto.Int32(onnxFloat), RawData: raw})
	return name
}

func (c *converter) int64Initializer(name string, vals []int64) string {
	raw := make([]byte, 8*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	c.g.Initializer = append(c.g.Initializer, &onnxpb.TensorProto{Name: proto.String(name), Dims: []int64{int64(len(vals))}, DataType: proto.Int32(onnxInt64), RawData: raw})
	return name
}

// constant returns the float values of tensor idx: a DEQUANTIZE output or a
// float constant buffer.
func (c *converter) constant(idx int32) ([]float32, error) {
	if v, ok := c.consts[idx]; ok {
		return v, nil
	}
	t := c.m.Tensors[idx]
	if len(t.Data) == 0 {
		return nil, fmt.Errorf("%w: %q is not a constant", ErrUnsupported, t.Name)
	}
	return t.Floats()
}

// activation returns the ONNX value name of activation tensor idx.
func (c *converter) activation(idx int32) (string, error) {
	n, ok := c.names[idx]
	if !ok {
		return "", fmt.Errorf("%w: %q used before it is computed (or a constant in an activation slot)", ErrUnsupported, c.m.Tensors[idx].Name)
	}
	return n, nil
}

// samePads is TensorFlow's SAME padding along one axis: [before, after].
func samePads(in, k, stride, dilation int64) (int64, int64) {
	ek := (k-1)*dilation + 1
	out := (in + stride - 1) / stride
	total := max((out-1)*stride+ek-in, 0)
	return total / 2, total - total/2
}

// fused appends the fused activation after a node computing pre and names
// the result out.
func (c *converter) fused(act int64, pre, out string) error {
	switch act {
	case actNone:
		return nil
	case actRelu:
		c.node("Relu", []string{pre}, out, nil)
	case actRelu6:
		c.node("Clip", []string{pre, c.initializer(out+"/min", nil, []float32{0}), c.initializer(out+"/max", nil, []float32{6})}, out, nil)
	default:
		return fmt.Errorf("%w: fused activation %d", ErrUnsupported, act)
	}
	return nil
}

// result names the output of op: the TFLite name, or name/pre when a fused
// activation follows.
func (c *converter) result(op Operator, act int64) (pre, out string) {
	out = c.m.Tensors[op.Outputs[0]].Name
	c.names[op.Outputs[0]] = out
	if act == actNone {
		return out, out
	}
	return out + "/pre_activation", out
}

func (c *converter) op(op Operator) error {
	if op.Code == OpCustom {
		return c.custom(op)
	}
	if len(op.Outputs) != 1 {
		return fmt.Errorf("%w: operator %d with %d outputs", ErrUnsupported, op.Code, len(op.Outputs))
	}
	switch op.Code {
	case OpDequantize:
		t := c.m.Tensors[op.Inputs[0]]
		v, err := t.Floats()
		if err != nil {
			return err
		}
		c.consts[op.Outputs[0]] = v
		return nil
	case OpConv2D, OpDepthwiseConv2D:
		return c.conv(op)
	case OpPRelu:
		x, err := c.activation(op.Inputs[0])
		if err != nil {
			return err
		}
		alpha, err := c.constant(op.Inputs[1])
		if err != nil {
			return err
		}
		at := c.m.Tensors[op.Inputs[1]]
		ch := int64(c.m.Tensors[op.Inputs[0]].Shape[3])
		if int64(len(alpha)) != ch {
			return fmt.Errorf("%w: PReLU alpha %q shape %v for %d channels", ErrUnsupported, at.Name, at.Shape, ch)
		}
		_, out := c.result(op, actNone)
		c.prelu(x, c.initializer(at.Name, []int64{ch, 1, 1}, alpha), out)
		return nil
	case OpMul:
		return c.mul(op)
	case OpReshape:
		return c.reshape(op)
	case OpStridedSlice:
		return c.stridedSlice(op)
	case OpAdd:
		a, err := c.activation(op.Inputs[0])
		if err != nil {
			return err
		}
		b, err := c.activation(op.Inputs[1])
		if err != nil {
			return err
		}
		sa, sb := c.m.Tensors[op.Inputs[0]].Shape, c.m.Tensors[op.Inputs[1]].Shape
		if fmt.Sprint(sa) != fmt.Sprint(sb) {
			return fmt.Errorf("%w: ADD of shapes %v and %v (broadcast)", ErrUnsupported, sa, sb)
		}
		act, err := op.addActivation()
		if err != nil {
			return err
		}
		pre, out := c.result(op, act)
		c.node("Add", []string{a, b}, pre, nil)
		return c.fused(act, pre, out)
	case OpMaxPool2D:
		x, err := c.activation(op.Inputs[0])
		if err != nil {
			return err
		}
		o, err := op.pool()
		if err != nil {
			return err
		}
		s := c.m.Tensors[op.Inputs[0]].Shape
		pads := []int64{0, 0, 0, 0}
		if o.padding == paddingSame {
			pads[0], pads[2] = samePads(int64(s[1]), o.filterH, o.strideH, 1)
			pads[1], pads[3] = samePads(int64(s[2]), o.filterW, o.strideW, 1)
		}
		pre, out := c.result(op, o.activation)
		c.node("MaxPool", []string{x}, pre, []*onnxpb.AttributeProto{
			attrInts("kernel_shape", o.filterH, o.filterW), attrInts("pads", pads...), attrInts("strides", o.strideH, o.strideW),
		})
		return c.fused(o.activation, pre, out)
	case OpPad:
		x, err := c.activation(op.Inputs[0])
		if err != nil {
			return err
		}
		p, err := c.m.Tensors[op.Inputs[1]].Ints()
		if err != nil {
			return err
		}
		if len(p) != 8 {
			return fmt.Errorf("%w: PAD paddings of %d values", ErrUnsupported, len(p))
		}
		// TFLite [[n0,n1],[h0,h1],[w0,w1],[c0,c1]] → ONNX [n0,c0,h0,w0,n1,c1,h1,w1].
		pads := []int64{int64(p[0]), int64(p[6]), int64(p[2]), int64(p[4]), int64(p[1]), int64(p[7]), int64(p[3]), int64(p[5])}
		_, out := c.result(op, actNone)
		c.node("Pad", []string{x, c.int64Initializer(out+"/pads", pads)}, out, []*onnxpb.AttributeProto{})
		return nil
	}
	return fmt.Errorf("%w: builtin operator %d", ErrUnsupported, op.Code)
}

func (c *converter) conv(op Operator) error {
	if len(op.Inputs) < 2 {
		return fmt.Errorf("%w: convolution without weights", ErrFormat)
	}
	x, err := c.activation(op.Inputs[0])
	if err != nil {
		return err
	}
	o, err := op.conv()
	if err != nil {
		return err
	}
	in := c.m.Tensors[op.Inputs[0]].Shape
	wt := c.m.Tensors[op.Inputs[1]]
	w, err := c.constant(op.Inputs[1])
	if err != nil {
		return err
	}
	if len(wt.Shape) != 4 {
		return fmt.Errorf("%w: filter %q shape %v", ErrUnsupported, wt.Name, wt.Shape)
	}
	// Conv: [O, kh, kw, I] → [O, I, kh, kw]. Depthwise: [1, kh, kw, C·m] →
	// [C·m, 1, kh, kw], group C.
	d0, kh, kw, d3 := int64(wt.Shape[0]), int64(wt.Shape[1]), int64(wt.Shape[2]), int64(wt.Shape[3])
	var dims []int64
	var group int64 = 1
	tw := make([]float32, len(w))
	if op.Code == OpConv2D {
		dims = []int64{d0, d3, kh, kw}
		for oc := range d0 {
			for y := range kh {
				for xx := range kw {
					for ic := range d3 {
						tw[((oc*d3+ic)*kh+y)*kw+xx] = w[((oc*kh+y)*kw+xx)*d3+ic]
					}
				}
			}
		}
	} else {
		if d0 != 1 {
			return fmt.Errorf("%w: depthwise filter %q shape %v", ErrUnsupported, wt.Name, wt.Shape)
		}
		group = int64(in[3])
		if d3 != group*o.depthMultiplier {
			return fmt.Errorf("%w: depthwise filter %q has %d channels for %d inputs × %d", ErrUnsupported, wt.Name, d3, group, o.depthMultiplier)
		}
		dims = []int64{d3, 1, kh, kw}
		for ch := range d3 {
			for y := range kh {
				for xx := range kw {
					tw[(ch*kh+y)*kw+xx] = w[(y*kw+xx)*d3+ch]
				}
			}
		}
	}
	inputs := []string{x, c.initializer(wt.Name, dims, tw)}
	if len(op.Inputs) > 2 && op.Inputs[2] >= 0 {
		bt := c.m.Tensors[op.Inputs[2]]
		b, err := c.constant(op.Inputs[2])
		if err != nil {
			return err
		}
		if int64(len(b)) != dims[0] {
			return fmt.Errorf("%w: bias %q has %d values for %d channels", ErrFormat, bt.Name, len(b), dims[0])
		}
		inputs = append(inputs, c.initializer(bt.Name, []int64{dims[0]}, b))
	}
	pads := []int64{0, 0, 0, 0}
	if o.padding == paddingSame {
		pads[0], pads[2] = samePads(int64(in[1]), kh, o.strideH, o.dilationH)
		pads[1], pads[3] = samePads(int64(in[2]), kw, o.strideW, o.dilationW)
	} else if o.padding != paddingValid {
		return fmt.Errorf("%w: padding %d", ErrUnsupported, o.padding)
	}
	pre, out := c.result(op, o.activation)
	c.node("Conv", inputs, pre, []*onnxpb.AttributeProto{
		attrInts("dilations", o.dilationH, o.dilationW), attrInt("group", group),
		attrInts("kernel_shape", kh, kw), attrInts("pads", pads...), attrInts("strides", o.strideH, o.strideW),
	})
	return c.fused(o.activation, pre, out)
}

// ConvertBytes converts TFLite model bytes to deterministic ONNX bytes
// (the same input gives the same output, byte for byte); outputs, when
// given, keeps only those graph outputs.
func ConvertBytes(src []byte, outputs ...string) ([]byte, error) {
	m, err := Parse(src)
	if err != nil {
		return nil, err
	}
	om, err := ToONNX(m, ConvertOptions{Producer: "facefleet models/cmd/tflite2onnx", Outputs: outputs})
	if err != nil {
		return nil, err
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(om)
}
