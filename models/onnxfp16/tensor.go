package onnxfp16

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/facefleet/facefleet/models/onnxfp16/onnxpb"
)

// halfStats counts what happened to values converted to FP16.
type halfStats struct {
	clamped int // finite values beyond ±65504, clamped
	flushed int // nonzero values that became ±0
	subnorm int // values stored as subnormal halves (reduced precision)
}

// floatsOf returns the float32 contents of a FLOAT tensor.
func floatsOf(t *onnxpb.TensorProto) ([]float32, error) {
	if t.GetDataType() != TypeFloat {
		return nil, fmt.Errorf("%w: tensor %q is type %d, not float", ErrUnsupported, t.GetName(), t.GetDataType())
	}
	if t.GetDataLocation() != 0 || len(t.GetExternalData()) > 0 {
		return nil, fmt.Errorf("%w: tensor %q uses external data", ErrUnsupported, t.GetName())
	}
	if raw := t.GetRawData(); len(raw) > 0 {
		if len(raw)%4 != 0 {
			return nil, fmt.Errorf("%w: tensor %q raw_data is %d bytes", ErrInvalidModel, t.GetName(), len(raw))
		}
		out := make([]float32, len(raw)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		return out, nil
	}
	return t.GetFloatData(), nil
}

// toHalf rewrites a FLOAT tensor in place as FLOAT16 with raw_data.
func toHalf(t *onnxpb.TensorProto, st *halfStats) error {
	fs, err := floatsOf(t)
	if err != nil {
		return err
	}
	raw := make([]byte, 2*len(fs))
	for i, f := range fs {
		h, clamped := HalfFromFloat32(f)
		if clamped {
			st.clamped++
		}
		switch m := h & 0x7fff; {
		case m == 0 && f != 0:
			st.flushed++
		case m != 0 && m < 0x0400:
			st.subnorm++
		}
		binary.LittleEndian.PutUint16(raw[2*i:], h)
	}
	t.DataType = ptr(TypeFloat16)
	t.FloatData = nil
	t.RawData = raw
	return nil
}

// int64sOf returns the contents of an INT64 tensor.
func int64sOf(t *onnxpb.TensorProto) ([]int64, bool) {
	if t.GetDataType() != TypeInt64 || t.GetDataLocation() != 0 {
		return nil, false
	}
	if raw := t.GetRawData(); len(raw) > 0 {
		if len(raw)%8 != 0 {
			return nil, false
		}
		out := make([]int64, len(raw)/8)
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
		}
		return out, true
	}
	return append([]int64(nil), t.GetInt64Data()...), true
}

// setInt64s stores v in t, keeping t's storage form (raw_data or int64_data).
func setInt64s(t *onnxpb.TensorProto, v []int64) {
	if len(t.GetRawData()) > 0 || len(t.GetInt64Data()) == 0 {
		raw := make([]byte, 8*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint64(raw[8*i:], uint64(x))
		}
		t.RawData = raw
		t.Int64Data = nil
	} else {
		t.Int64Data = append([]int64(nil), v...)
	}
	t.Dims = []int64{int64(len(v))}
}

// int64Tensor builds a 1-D INT64 initializer.
func int64Tensor(name string, v []int64) *onnxpb.TensorProto {
	t := &onnxpb.TensorProto{Name: ptr(name), DataType: ptr(TypeInt64)}
	setInt64s(t, v)
	return t
}

func ptr[T any](v T) *T { return &v }
