// Package tflite reads the subset of the TensorFlow Lite flatbuffer format
// that MediaPipe's face models use and converts such a model to an
// equivalent ONNX graph (NCHW), so that facefleet runs exactly the weights
// MediaPipe's own solutions run. It is a model-pack build tool (used by
// models/cmd/tflite2onnx), not a runtime dependency.
//
// Format reference: tensorflow/lite/schema/schema.fbs (Model, SubGraph,
// Tensor, Buffer, Operator, OperatorCode and the builtin option tables used
// below). Only what the supported operators need is decoded.
package tflite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Errors; every error of the package wraps one of them.
var (
	// ErrFormat: the bytes are not a well-formed TFLite flatbuffer.
	ErrFormat = errors.New("tflite: malformed model")
	// ErrUnsupported: a valid model uses something the converter does not
	// implement (operator, tensor type, activation, layout).
	ErrUnsupported = errors.New("tflite: unsupported")
)

// Tensor types (schema.fbs TensorType).
const (
	TypeFloat32 = 0
	TypeFloat16 = 1
	TypeInt32   = 2
)

// Builtin operator codes used by MediaPipe's face models (schema.fbs
// BuiltinOperator).
const (
	OpAdd             = 0
	OpConv2D          = 3
	OpDepthwiseConv2D = 4
	OpDequantize      = 6
	OpMaxPool2D       = 17
	OpMul             = 18
	OpReshape         = 22
	OpCustom          = 32
	OpPad             = 34
	OpStridedSlice    = 45
	OpPRelu           = 54
)

// Tensor is one tensor of the graph; Data is its constant buffer (nil for
// activations).
type Tensor struct {
	Name  string
	Shape []int32
	Type  int8
	Data  []byte
}

// Operator is one node: its builtin code, tensor indices (-1 = absent
// optional input) and its raw builtin options table (decode with the
// option accessors).
type Operator struct {
	Code    int32
	Inputs  []int32
	Outputs []int32
	// Custom is the custom_code of a CUSTOM operator ("" for builtins),
	// Version its operator version and CustomOptions its raw
	// custom_options bytes (a FlexBuffers map).
	Custom        string
	Version       int32
	CustomOptions []byte
	opts          table
}

// Model is the first subgraph of a TFLite model.
type Model struct {
	Description string
	Tensors     []Tensor
	Operators   []Operator
	Inputs      []int32
	Outputs     []int32
}

// table is a flatbuffer table position in buf.
type table struct {
	buf []byte
	pos int
}

func (t table) ok() bool { return t.buf != nil }

func u32(b []byte, o int) (uint32, error) {
	if o < 0 || o+4 > len(b) {
		return 0, fmt.Errorf("%w: offset %d out of range", ErrFormat, o)
	}
	return binary.LittleEndian.Uint32(b[o:]), nil
}

// field returns the absolute position of field i of t, or -1 when absent.
func (t table) field(i int) (int, error) {
	so, err := u32(t.buf, t.pos)
	if err != nil {
		return -1, err
	}
	vt := t.pos - int(int32(so))
	if vt < 0 || vt+4 > len(t.buf) {
		return -1, fmt.Errorf("%w: vtable out of range", ErrFormat)
	}
	vsize := int(binary.LittleEndian.Uint16(t.buf[vt:]))
	if 4+2*i+2 > vsize {
		return -1, nil
	}
	if vt+4+2*i+2 > len(t.buf) {
		return -1, fmt.Errorf("%w: vtable out of range", ErrFormat)
	}
	off := int(binary.LittleEndian.Uint16(t.buf[vt+4+2*i:]))
	if off == 0 {
		return -1, nil
	}
	return t.pos + off, nil
}

// deref follows the uoffset stored at p.
func deref(b []byte, p int) (int, error) {
	o, err := u32(b, p)
	if err != nil {
		return 0, err
	}
	q := p + int(o)
	if q >= len(b) {
		return 0, fmt.Errorf("%w: reference out of range", ErrFormat)
	}
	return q, nil
}

// vector returns the start and length of vector field i (0, 0 if absent).
func (t table) vector(i, elem int) (int, int, error) {
	p, err := t.field(i)
	if err != nil || p < 0 {
		return 0, 0, err
	}
	v, err := deref(t.buf, p)
	if err != nil {
		return 0, 0, err
	}
	n, err := u32(t.buf, v)
	if err != nil {
		return 0, 0, err
	}
	if v+4+int(n)*elem > len(t.buf) {
		return 0, 0, fmt.Errorf("%w: vector of %d×%d bytes out of range", ErrFormat, n, elem)
	}
	return v + 4, int(n), nil
}

func (t table) tables(i int) ([]table, error) {
	s, n, err := t.vector(i, 4)
	if err != nil {
		return nil, err
	}
	out := make([]table, n)
	for k := range out {
		p, err := deref(t.buf, s+4*k)
		if err != nil {
			return nil, err
		}
		out[k] = table{t.buf, p}
	}
	return out, nil
}

func (t table) sub(i int) (table, error) {
	p, err := t.field(i)
	if err != nil || p < 0 {
		return table{}, err
	}
	q, err := deref(t.buf, p)
	return table{t.buf, q}, err
}

func (t table) ints(i int) ([]int32, error) {
	s, n, err := t.vector(i, 4)
	if err != nil {
		return nil, err
	}
	out := make([]int32, n)
	for k := range out {
		out[k] = int32(binary.LittleEndian.Uint32(t.buf[s+4*k:]))
	}
	return out, nil
}

func (t table) bytes(i int) ([]byte, error) {
	s, n, err := t.vector(i, 1)
	if err != nil {
		return nil, err
	}
	return t.buf[s : s+n : s+n], nil
}

func (t table) scalar(i, size int, def int64) (int64, error) {
	p, err := t.field(i)
	if err != nil || p < 0 {
		return def, err
	}
	if p+size > len(t.buf) {
		return 0, fmt.Errorf("%w: scalar out of range", ErrFormat)
	}
	switch size {
	case 1:
		return int64(int8(t.buf[p])), nil
	case 4:
		return int64(int32(binary.LittleEndian.Uint32(t.buf[p:]))), nil
	}
	return 0, fmt.Errorf("%w: scalar size %d", ErrFormat, size)
}

// Parse decodes a TFLite model (its first subgraph).
func Parse(b []byte) (*Model, error) {
	if len(b) < 8 || string(b[4:8]) != "TFL3" {
		return nil, fmt.Errorf("%w: no TFL3 identifier", ErrFormat)
	}
	rp, err := deref(b, 0)
	if err != nil {
		return nil, err
	}
	root := table{b, rp}
	desc, err := root.bytes(3)
	if err != nil {
		return nil, err
	}
	m := &Model{Description: string(desc)}
	codesT, err := root.tables(1)
	if err != nil {
		return nil, err
	}
	codes := make([]int32, len(codesT))
	customs := make([]string, len(codesT))
	versions := make([]int32, len(codesT))
	for i, c := range codesT {
		cc, err := c.bytes(1)
		if err != nil {
			return nil, err
		}
		customs[i] = string(cc)
		v, err := c.scalar(2, 4, 1)
		if err != nil {
			return nil, err
		}
		versions[i] = int32(v)
		dep, err := c.scalar(0, 1, 0)
		if err != nil {
			return nil, err
		}
		bc, err := c.scalar(3, 4, 0)
		if err != nil {
			return nil, err
		}
		codes[i] = int32(max(dep, bc))
	}
	bufsT, err := root.tables(4)
	if err != nil {
		return nil, err
	}
	bufs := make([][]byte, len(bufsT))
	for i, bt := range bufsT {
		if bufs[i], err = bt.bytes(0); err != nil {
			return nil, err
		}
	}
	subs, err := root.tables(2)
	if err != nil {
		return nil, err
	}
	if len(subs) == 0 {
		return nil, fmt.Errorf("%w: no subgraph", ErrFormat)
	}
	sg := subs[0]
	tensT, err := sg.tables(0)
	if err != nil {
		return nil, err
	}
	for _, tt := range tensT {
		var t Tensor
		if t.Shape, err = tt.ints(0); err != nil {
			return nil, err
		}
		ty, err := tt.scalar(1, 1, 0)
		if err != nil {
			return nil, err
		}
		t.Type = int8(ty)
		bi, err := tt.scalar(2, 4, 0)
		if err != nil {
			return nil, err
		}
		if bi < 0 || int(bi) >= len(bufs) {
			return nil, fmt.Errorf("%w: tensor buffer %d of %d", ErrFormat, bi, len(bufs))
		}
		t.Data = bufs[bi]
		name, err := tt.bytes(3)
		if err != nil {
			return nil, err
		}
		t.Name = string(name)
		m.Tensors = append(m.Tensors, t)
	}
	if m.Inputs, err = sg.ints(1); err != nil {
		return nil, err
	}
	if m.Outputs, err = sg.ints(2); err != nil {
		return nil, err
	}
	opsT, err := sg.tables(3)
	if err != nil {
		return nil, err
	}
	for _, ot := range opsT {
		ci, err := ot.scalar(0, 4, 0)
		if err != nil {
			return nil, err
		}
		if ci < 0 || int(ci) >= len(codes) {
			return nil, fmt.Errorf("%w: opcode index %d", ErrFormat, ci)
		}
		op := Operator{Code: codes[ci], Custom: customs[ci], Version: versions[ci]}
		if op.CustomOptions, err = ot.bytes(5); err != nil {
			return nil, err
		}
		if op.Inputs, err = ot.ints(1); err != nil {
			return nil, err
		}
		if op.Outputs, err = ot.ints(2); err != nil {
			return nil, err
		}
		if op.opts, err = ot.sub(4); err != nil {
			return nil, err
		}
		for _, idx := range append(append([]int32(nil), op.Inputs...), op.Outputs...) {
			if idx < -1 || int(idx) >= len(m.Tensors) {
				return nil, fmt.Errorf("%w: tensor index %d", ErrFormat, idx)
			}
		}
		m.Operators = append(m.Operators, op)
	}
	for _, idx := range append(append([]int32(nil), m.Inputs...), m.Outputs...) {
		if idx < 0 || int(idx) >= len(m.Tensors) {
			return nil, fmt.Errorf("%w: graph tensor index %d", ErrFormat, idx)
		}
	}
	return m, nil
}

// Floats returns a constant FLOAT32 or FLOAT16 tensor's values as float32.
func (t Tensor) Floats() ([]float32, error) {
	n := 1
	for _, d := range t.Shape {
		n *= int(d)
	}
	switch t.Type {
	case TypeFloat32:
		if len(t.Data) != 4*n {
			return nil, fmt.Errorf("%w: tensor %q has %d bytes for %d floats", ErrFormat, t.Name, len(t.Data), n)
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
		}
		return out, nil
	case TypeFloat16:
		if len(t.Data) != 2*n {
			return nil, fmt.Errorf("%w: tensor %q has %d bytes for %d halves", ErrFormat, t.Name, len(t.Data), n)
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = halfToFloat(binary.LittleEndian.Uint16(t.Data[2*i:]))
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: tensor %q type %d is not float", ErrUnsupported, t.Name, t.Type)
}

// Ints returns a constant INT32 tensor's values.
func (t Tensor) Ints() ([]int32, error) {
	if t.Type != TypeInt32 || len(t.Data)%4 != 0 {
		return nil, fmt.Errorf("%w: tensor %q is not int32 data", ErrUnsupported, t.Name)
	}
	out := make([]int32, len(t.Data)/4)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return out, nil
}

// halfToFloat converts IEEE 754 binary16 bits to float32 exactly.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := int(h>>10) & 0x1f
	frac := uint32(h & 0x3ff)
	switch exp {
	case 0:
		// ±0 or subnormal: frac × 2^-24.
		v := float32(frac) * (1.0 / (1 << 24))
		return math.Float32frombits(math.Float32bits(v) | sign)
	case 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	}
	return math.Float32frombits(sign | uint32(exp-15+127)<<23 | frac<<13)
}

// options of the supported builtins (schema.fbs field order).
type convOptions struct {
	padding              int64 // paddingSame or paddingValid
	strideW, strideH     int64
	activation           int64
	dilationW, dilationH int64
	depthMultiplier      int64
}

type poolOptions struct {
	padding          int64
	strideW, strideH int64
	filterW, filterH int64
	activation       int64
}

const (
	paddingSame  = 0
	paddingValid = 1
	actNone      = 0
	actRelu      = 1
	actRelu6     = 3
)

// field is one option field: index, width in bytes (1 for enums, 4 for
// ints) and schema default.
type field struct {
	i, size int
	def     int64
}

// read decodes option fields in order into dst; absent options tables give
// the defaults.
func (op Operator) read(fields []field, dst ...*int64) error {
	for k, f := range fields {
		if !op.opts.ok() {
			*dst[k] = f.def
			continue
		}
		v, err := op.opts.scalar(f.i, f.size, f.def)
		if err != nil {
			return err
		}
		*dst[k] = v
	}
	return nil
}

func (op Operator) conv() (convOptions, error) {
	var o convOptions
	switch op.Code {
	case OpConv2D:
		o.depthMultiplier = 1
		return o, op.read([]field{{0, 1, 0}, {1, 4, 1}, {2, 4, 1}, {3, 1, 0}, {4, 4, 1}, {5, 4, 1}},
			&o.padding, &o.strideW, &o.strideH, &o.activation, &o.dilationW, &o.dilationH)
	case OpDepthwiseConv2D:
		return o, op.read([]field{{0, 1, 0}, {1, 4, 1}, {2, 4, 1}, {3, 4, 1}, {4, 1, 0}, {5, 4, 1}, {6, 4, 1}},
			&o.padding, &o.strideW, &o.strideH, &o.depthMultiplier, &o.activation, &o.dilationW, &o.dilationH)
	}
	return o, fmt.Errorf("%w: operator %d has no conv options", ErrUnsupported, op.Code)
}

func (op Operator) pool() (poolOptions, error) {
	var o poolOptions
	return o, op.read([]field{{0, 1, 0}, {1, 4, 1}, {2, 4, 1}, {3, 4, 1}, {4, 4, 1}, {5, 1, 0}},
		&o.padding, &o.strideW, &o.strideH, &o.filterW, &o.filterH, &o.activation)
}

// addActivation is AddOptions.fused_activation_function (MulOptions has
// the same first field).
func (op Operator) addActivation() (int64, error) {
	var a int64
	return a, op.read([]field{{0, 1, 0}}, &a)
}

// sliceOptions are StridedSliceOptions.
type sliceOptions struct {
	beginMask, endMask, ellipsisMask, newAxisMask, shrinkAxisMask, offset int64
}

func (op Operator) stridedSlice() (sliceOptions, error) {
	var o sliceOptions
	return o, op.read([]field{{0, 4, 0}, {1, 4, 0}, {2, 4, 0}, {3, 4, 0}, {4, 4, 0}, {5, 1, 0}},
		&o.beginMask, &o.endMask, &o.ellipsisMask, &o.newAxisMask, &o.shrinkAxisMask, &o.offset)
}
