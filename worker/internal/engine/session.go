package engine

import (
	"errors"
	"fmt"

	"github.com/x448/float16"
	ort "github.com/yalue/onnxruntime_go"

	"github.com/facefleet/facefleet/models"
)

// session is one ORT session with its tensors. The input is always staged as
// float32 (preprocessing writes into it directly); when the model's I/O is
// float16 the engine converts at the boundary. Tensors are created once per
// batch size and reused, so callers must hold the Engine's mutex.
type session struct {
	model    models.Model
	sess     *ort.DynamicAdvancedSession
	in       ort.InputOutputInfo
	outs     []ort.InputOutputInfo
	dynamic  bool // input batch dimension is dynamic
	halfIn   bool
	halfOuts []bool
	sets     map[int]*ioSet
}

// ioSet holds the tensors of one batch size.
type ioSet struct {
	in      []float32 // staging buffer the preprocessing fills
	inVal   ort.Value
	inHalf  []byte // float16 input bytes (halfIn only)
	outVals []ort.Value
	out     [][]float32 // float32 views of the outputs
	outHalf [][]byte    // float16 output bytes (per output, when half)
}

// loadModel returns the pack's ONNX bytes of m at precision p and its
// inputs and outputs; errors wrap ErrModel.
func loadModel(m models.Model, p models.Precision) ([]byte, []ort.InputOutputInfo, []ort.InputOutputInfo, error) {
	data, err := models.ONNX(m, p)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	ins, outs, err := ort.GetInputOutputInfoWithONNXData(data)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %s: %w", ErrModel, m, err)
	}
	return data, ins, outs, nil
}

func newSession(m models.Model, so *ort.SessionOptions, p models.Precision, input string, outputs []string) (*session, error) {
	data, ins, outs, err := loadModel(m, p)
	if err != nil {
		return nil, err
	}
	s := &session{model: m, sets: map[int]*ioSet{}}
	if len(ins) != 1 || ins[0].Name != input {
		return nil, fmt.Errorf("%w: %s: want one input %q, have %v", ErrModel, m, input, ins)
	}
	s.in = ins[0]
	if s.halfIn, err = isHalf(s.in); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrModel, m, err)
	}
	for _, name := range outputs {
		found := false
		for _, o := range outs {
			if o.Name == name {
				h, err := isHalf(o)
				if err != nil {
					return nil, fmt.Errorf("%w: %s: %w", ErrModel, m, err)
				}
				for _, d := range o.Dimensions[1:] {
					if d < 0 {
						return nil, fmt.Errorf("%w: %s: output %s has dynamic dims %v", ErrModel, m, name, o.Dimensions)
					}
				}
				s.outs = append(s.outs, o)
				s.halfOuts = append(s.halfOuts, h)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: %s: no output %q in %v", ErrModel, m, name, outs)
		}
	}
	if len(s.in.Dimensions) == 0 {
		return nil, fmt.Errorf("%w: %s: scalar input", ErrModel, m)
	}
	for _, d := range s.in.Dimensions[1:] {
		if d < 0 {
			return nil, fmt.Errorf("%w: %s: input has dynamic dims %v", ErrModel, m, s.in.Dimensions)
		}
	}
	s.dynamic = s.in.Dimensions[0] < 0
	s.sess, err = ort.NewDynamicAdvancedSessionWithONNXData(data, []string{input}, outputs, so)
	if err != nil {
		return nil, fmt.Errorf("engine: session %s: %w", m, err)
	}
	return s, nil
}

func isHalf(info ort.InputOutputInfo) (bool, error) {
	switch info.DataType {
	case ort.TensorElementDataTypeFloat:
		return false, nil
	case ort.TensorElementDataTypeFloat16:
		return true, nil
	default:
		return false, fmt.Errorf("%s: element type %s, want float or float16", info.Name, info.DataType)
	}
}

// expectInput checks the input's per-item dims (after the batch dim).
func (s *session) expectInput(dims ...int64) error {
	got := s.in.Dimensions[1:]
	if len(got) != len(dims) {
		return fmt.Errorf("%w: %s: input dims %v, want [N %v]", ErrModel, s.model, s.in.Dimensions, dims)
	}
	for i := range dims {
		if got[i] != dims[i] {
			return fmt.Errorf("%w: %s: input dims %v, want [N %v]", ErrModel, s.model, s.in.Dimensions, dims)
		}
	}
	return nil
}

// maxBatch is the largest batch one run takes.
func (s *session) maxBatch(limit int) int {
	if s.dynamic {
		return limit
	}
	return int(s.in.Dimensions[0])
}

// buffers returns the tensors for batch n, creating them on first use.
func (s *session) buffers(n int) (*ioSet, error) {
	if b, ok := s.sets[n]; ok {
		return b, nil
	}
	if !s.dynamic && int64(n) != s.in.Dimensions[0] {
		return nil, fmt.Errorf("engine: %s: batch %d on a fixed batch-%d model", s.model, n, s.in.Dimensions[0])
	}
	b := &ioSet{}
	ok := false
	defer func() {
		if !ok {
			b.destroy()
		}
	}()
	shape := withBatch(s.in.Dimensions, n)
	b.in = make([]float32, shape.FlattenedSize())
	var err error
	if s.halfIn {
		b.inHalf = make([]byte, 2*len(b.in))
		b.inVal, err = ort.NewCustomDataTensor(shape, b.inHalf, ort.TensorElementDataTypeFloat16)
	} else {
		b.inVal, err = ort.NewTensor(shape, b.in)
	}
	if err != nil {
		return nil, fmt.Errorf("engine: %s input tensor: %w", s.model, err)
	}
	for i, o := range s.outs {
		// A fixed-batch model's outputs keep their declared shape (the
		// blendshape model's output is [52], no batch axis).
		shape := o.Dimensions.Clone()
		if s.dynamic {
			shape = withBatch(o.Dimensions, n)
		}
		if s.halfOuts[i] {
			raw := make([]byte, 2*shape.FlattenedSize())
			v, err := ort.NewCustomDataTensor(shape, raw, ort.TensorElementDataTypeFloat16)
			if err != nil {
				return nil, fmt.Errorf("engine: %s output tensor: %w", s.model, err)
			}
			b.outVals = append(b.outVals, v)
			b.outHalf = append(b.outHalf, raw)
			b.out = append(b.out, make([]float32, shape.FlattenedSize()))
			continue
		}
		t, err := ort.NewEmptyTensor[float32](shape)
		if err != nil {
			return nil, fmt.Errorf("engine: %s output tensor: %w", s.model, err)
		}
		b.outVals = append(b.outVals, t)
		b.outHalf = append(b.outHalf, nil)
		b.out = append(b.out, t.GetData())
	}
	s.sets[n] = b
	ok = true
	return b, nil
}

func withBatch(dims ort.Shape, n int) ort.Shape {
	s := dims.Clone()
	s[0] = int64(n)
	return s
}

// run executes the session on the input staged in buffers(n).in and returns
// the float32 outputs (valid until the next run with the same n).
func (s *session) run(n int) ([][]float32, error) {
	b, err := s.buffers(n)
	if err != nil {
		return nil, err
	}
	if s.halfIn {
		toHalf(b.inHalf, b.in)
	}
	if err := s.sess.Run([]ort.Value{b.inVal}, b.outVals); err != nil {
		return nil, fmt.Errorf("engine: run %s (batch %d): %w", s.model, n, err)
	}
	for i, raw := range b.outHalf {
		if raw != nil {
			fromHalf(b.out[i], raw)
		}
	}
	return b.out, nil
}

func (s *session) destroy() error {
	var errs []error
	for _, b := range s.sets {
		errs = append(errs, b.destroy())
	}
	s.sets = nil
	if s.sess != nil {
		errs = append(errs, s.sess.Destroy())
		s.sess = nil
	}
	return errors.Join(errs...)
}

func (b *ioSet) destroy() error {
	var errs []error
	if b.inVal != nil {
		errs = append(errs, b.inVal.Destroy())
	}
	for _, v := range b.outVals {
		errs = append(errs, v.Destroy())
	}
	b.inVal, b.outVals = nil, nil
	return errors.Join(errs...)
}

// toHalf writes src as little-endian IEEE half floats into dst (2×len(src)).
func toHalf(dst []byte, src []float32) {
	_ = dst[2*len(src)-1]
	for i, f := range src {
		h := uint16(float16.Fromfloat32(f))
		dst[2*i] = byte(h)
		dst[2*i+1] = byte(h >> 8)
	}
}

// fromHalf reads little-endian IEEE half floats from src into dst.
func fromHalf(dst []float32, src []byte) {
	_ = src[2*len(dst)-1]
	for i := range dst {
		dst[i] = float16.Frombits(uint16(src[2*i]) | uint16(src[2*i+1])<<8).Float32()
	}
}
