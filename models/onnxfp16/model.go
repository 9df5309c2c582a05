// Package onnxfp16 converts FP32 ONNX graphs to FP16: weights and activations
// in IEEE half precision, graph inputs and outputs still FP32 (Cast nodes at
// the boundary), ops without an FP16 kernel in ONNX Runtime's CPU provider
// kept in FP32 between Casts, and the batch dimension made dynamic.
//
// It works on a subset of onnx.proto (package onnxpb); fields outside the
// subset are carried through unchanged, and a model that is decoded and
// encoded without changes comes back byte for byte.
package onnxfp16

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/facefleet/facefleet/models/onnxfp16/onnxpb"
)

// Sentinel errors; returned errors wrap them (check with errors.Is).
var (
	// ErrInvalidModel means the bytes are not a usable ONNX model.
	ErrInvalidModel = errors.New("onnxfp16: invalid model")
	// ErrUnsupported means the graph uses something the converter does not
	// handle (subgraphs, external data, an op whose output type it cannot
	// infer, a batch pattern it cannot rewrite).
	ErrUnsupported = errors.New("onnxfp16: unsupported graph")
	// ErrConverted means the model already carries this converter's
	// metadata (MetadataKey): it is an output, not an input.
	ErrConverted = errors.New("onnxfp16: model already converted")
)

// ONNX tensor element types used here (TensorProto.DataType).
const (
	TypeFloat   int32 = 1
	TypeInt32   int32 = 6
	TypeInt64   int32 = 7
	TypeBool    int32 = 9
	TypeFloat16 int32 = 10
	TypeDouble  int32 = 11
)

// Decode parses an ONNX model and checks that it has a graph.
func Decode(b []byte) (*onnxpb.ModelProto, error) {
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidModel, err)
	}
	if m.GetGraph() == nil {
		return nil, fmt.Errorf("%w: no graph", ErrInvalidModel)
	}
	return &m, nil
}

// Encode serialises m deterministically: the same model always gives the
// same bytes.
func Encode(m *onnxpb.ModelProto) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("onnxfp16: encode: %w", err)
	}
	return b, nil
}
