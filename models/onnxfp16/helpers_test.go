package onnxfp16_test

import (
	"errors"

	"github.com/facefleet/facefleet/models/onnxfp16"
	"github.com/facefleet/facefleet/models/onnxfp16/onnxpb"
)

func p[T any](v T) *T { return &v }

func valueInfo(name string, elem int32, dims ...int64) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	return &onnxpb.ValueInfoProto{Name: p(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: p(elem), Shape: shape}}}}
}

func halfTensor(name string, dims []int64, v ...float32) *onnxpb.TensorProto {
	raw := make([]byte, 0, 2*len(v))
	for _, f := range v {
		h, _ := onnxfp16.HalfFromFloat32(f)
		raw = append(raw, byte(h), byte(h>>8))
	}
	return &onnxpb.TensorProto{Name: p(name), Dims: dims, DataType: p(onnxfp16.TypeFloat16), RawData: raw}
}

func intsAttr(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: p(name), Type: p(int32(7)), Ints: v}
}

func intAttr(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: p(name), Type: p(int32(2)), I: p(v)}
}

func filled(n int, v float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func floatTensor(name string, dims []int64, v ...float32) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: p(name), Dims: dims, DataType: p(onnxfp16.TypeFloat), FloatData: v}
}

func int64Init(name string, v ...int64) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: p(name), Dims: []int64{int64(len(v))}, DataType: p(onnxfp16.TypeInt64), Int64Data: v}
}

func node(op string, in, out []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: p(op), Name: p(op + "_" + out[0]), Input: in, Output: out, Attribute: attrs}
}

func model(opset int64, g *onnxpb.GraphProto) *onnxpb.ModelProto {
	if g.Name == nil {
		g.Name = p("test")
	}
	return &onnxpb.ModelProto{IrVersion: p(int64(7)), ProducerName: p("facefleet-test"),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: p(""), Version: p(opset)}}, Graph: g}
}

func ramp(n int, scale float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = (float32(i%7) - 3) * scale
	}
	return out
}

func errorsIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
