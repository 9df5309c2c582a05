package onnxfp16_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/models/onnxfp16"
	"github.com/facefleet/facefleet/models/onnxfp16/onnxpb"
)

func fuzzSeeds(f *testing.F) {
	for _, m := range []*onnxpb.ModelProto{convNet(), model(12, &onnxpb.GraphProto{
		Node: []*onnxpb.NodeProto{
			node("ConstantOfShape", []string{"pshape"}, []string{"pad"}),
			node("Relu", []string{"X"}, []string{"r"}),
			node("Concat", []string{"r", "pad"}, []string{"Y"}, intAttr("axis", 1)),
		},
		Initializer: []*onnxpb.TensorProto{int64Init("pshape", 1, 2, 4, 4)},
		Input:       []*onnxpb.ValueInfoProto{valueInfo("X", onnxfp16.TypeFloat, 1, 2, 4, 4)},
		Output:      []*onnxpb.ValueInfoProto{valueInfo("Y", onnxfp16.TypeFloat, 1, 4, 4, 4)},
	})} {
		b, err := onnxfp16.Encode(m)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0x3a, 0x02, 0x0a, 0x00}) // graph with one empty node
}

// FuzzDecode: the decoder never panics, and what it accepts re-encodes to
// a fixed point.
func FuzzDecode(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := onnxfp16.Decode(b)
		if err != nil {
			require.ErrorIs(t, err, onnxfp16.ErrInvalidModel)
			return
		}
		b1, err := onnxfp16.Encode(m)
		require.NoError(t, err)
		m2, err := onnxfp16.Decode(b1)
		require.NoError(t, err)
		b2, err := onnxfp16.Encode(m2)
		require.NoError(t, err)
		require.True(t, bytes.Equal(b1, b2), "encode is not a fixed point")
	})
}

// FuzzConvert: the converter never panics; it fails with a sentinel or
// returns a model that decodes, with FLOAT graph inputs and outputs intact.
func FuzzConvert(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		out, _, err := onnxfp16.Convert(b, onnxfp16.Options{})
		if err != nil {
			if !errorsIsAny(err, onnxfp16.ErrInvalidModel, onnxfp16.ErrUnsupported, onnxfp16.ErrConverted) {
				t.Fatalf("error without a sentinel: %v", err)
			}
			return
		}
		in, err := onnxfp16.Decode(b)
		require.NoError(t, err)
		got, err := onnxfp16.Decode(out)
		require.NoError(t, err)
		require.Len(t, got.Graph.Input, len(in.Graph.Input))
		require.Len(t, got.Graph.Output, len(in.Graph.Output))
		for i, vi := range in.Graph.Output {
			require.Equal(t, vi.GetName(), got.Graph.Output[i].GetName())
			require.Equal(t, vi.GetType().GetTensorType().GetElemType(), got.Graph.Output[i].GetType().GetTensorType().GetElemType())
		}
	})
}
