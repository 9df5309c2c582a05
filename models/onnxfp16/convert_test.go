package onnxfp16_test

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/models/internal/orttest"
	"github.com/facefleet/facefleet/models/onnxfp16"
	"github.com/facefleet/facefleet/models/onnxfp16/onnxpb"
)

// convNet: X[1,2,4,4] → Conv(W,B) → Relu → Reshape([1,32]) → Y[1,32].
func convNet() *onnxpb.ModelProto {
	return model(13, &onnxpb.GraphProto{
		Node: []*onnxpb.NodeProto{
			node("Conv", []string{"X", "W", "B"}, []string{"c"}, intsAttr("pads", 1, 1, 1, 1)),
			node("Relu", []string{"c"}, []string{"r"}),
			node("Reshape", []string{"r", "shape"}, []string{"Y"}),
		},
		Initializer: []*onnxpb.TensorProto{
			floatTensor("W", []int64{2, 2, 3, 3}, ramp(36, 0.1)...),
			floatTensor("B", []int64{2}, 0.5, -0.25),
			int64Init("shape", 1, 32),
		},
		Input:     []*onnxpb.ValueInfoProto{valueInfo("X", onnxfp16.TypeFloat, 1, 2, 4, 4)},
		Output:    []*onnxpb.ValueInfoProto{valueInfo("Y", onnxfp16.TypeFloat, 1, 32)},
		ValueInfo: []*onnxpb.ValueInfoProto{valueInfo("c", onnxfp16.TypeFloat, 1, 2, 4, 4), valueInfo("r", onnxfp16.TypeFloat, 1, 2, 4, 4)},
	})
}

func encode(t *testing.T, m *onnxpb.ModelProto) []byte {
	t.Helper()
	b, err := onnxfp16.Encode(m)
	require.NoError(t, err)
	return b
}

func convert(t *testing.T, m *onnxpb.ModelProto, opts onnxfp16.Options) (*onnxpb.ModelProto, onnxfp16.Report) {
	t.Helper()
	out, rep, err := onnxfp16.Convert(encode(t, m), opts)
	require.NoError(t, err)
	got, err := onnxfp16.Decode(out)
	require.NoError(t, err)
	return got, rep
}

func initializer(g *onnxpb.GraphProto, name string) *onnxpb.TensorProto {
	for _, t := range g.Initializer {
		if t.GetName() == name {
			return t
		}
	}
	return nil
}

func halves(t *onnxpb.TensorProto) []uint16 {
	out := make([]uint16, len(t.GetRawData())/2)
	for i := range out {
		out[i] = binary.LittleEndian.Uint16(t.GetRawData()[2*i:])
	}
	return out
}

func elemType(vi *onnxpb.ValueInfoProto) int32 { return vi.GetType().GetTensorType().GetElemType() }

func dim0(vi *onnxpb.ValueInfoProto) string {
	d := vi.GetType().GetTensorType().GetShape().GetDim()[0]
	if d.GetDimParam() != "" {
		return d.GetDimParam()
	}
	return strconv.FormatInt(d.GetDimValue(), 10)
}

func TestConvertTinyGraph(t *testing.T) {
	t.Parallel()
	src := convNet()
	got, rep := convert(t, src, onnxfp16.Options{})
	g := got.GetGraph()

	require.Equal(t, onnxfp16.TypeFloat, elemType(g.Input[0]))
	require.Equal(t, onnxfp16.TypeFloat, elemType(g.Output[0]))
	require.Equal(t, "N", dim0(g.Input[0]))
	require.Equal(t, "N", dim0(g.Output[0]))
	require.Empty(t, g.ValueInfo)

	w := initializer(g, "W")
	require.Equal(t, onnxfp16.TypeFloat16, w.GetDataType())
	require.Equal(t, []int64{2, 2, 3, 3}, w.Dims)
	require.Empty(t, w.FloatData)
	for i, h := range halves(w) {
		want, _ := onnxfp16.HalfFromFloat32(src.Graph.Initializer[0].FloatData[i])
		require.Equal(t, want, h, "W[%d]", i)
	}
	require.Equal(t, onnxfp16.TypeFloat16, initializer(g, "B").GetDataType())
	require.Equal(t, []int64{-1, 32}, initializer(g, "shape").GetInt64Data())

	first, last := g.Node[0], g.Node[len(g.Node)-1]
	require.Equal(t, "Cast", first.GetOpType())
	require.Equal(t, []string{"X"}, first.Input)
	require.Equal(t, int64(onnxfp16.TypeFloat16), first.Attribute[0].GetI())
	require.Equal(t, first.Output[0], g.Node[1].Input[0], "Conv reads the cast input")
	require.Equal(t, "Cast", last.GetOpType())
	require.Equal(t, []string{"Y"}, last.Output)
	require.Equal(t, int64(onnxfp16.TypeFloat), last.Attribute[0].GetI())
	require.Equal(t, g.Node[len(g.Node)-2].Output[0], last.Input[0])

	require.Equal(t, onnxfp16.Report{
		Nodes: 3, FP16Nodes: 3, CastsInserted: 2, InitializersConverted: 2, WeightsConverted: 38,
		ReshapesFixed: 1, ValueInfoDropped: 2,
		BytesBefore: rep.BytesBefore, BytesAfter: rep.BytesAfter,
	}, rep)

	var meta string
	for _, kv := range got.MetadataProps {
		if kv.GetKey() == onnxfp16.MetadataKey {
			meta = kv.GetValue()
		}
	}
	require.Contains(t, meta, "batch: dynamic")

	// Static batch leaves the shapes alone.
	static, rep := convert(t, convNet(), onnxfp16.Options{StaticBatch: true})
	require.Equal(t, "1", dim0(static.Graph.Input[0]))
	require.Equal(t, []int64{1, 32}, initializer(static.Graph, "shape").GetInt64Data())
	require.Zero(t, rep.ReshapesFixed)
}

func TestConvertKeepFP32(t *testing.T) {
	t.Parallel()
	got, rep := convert(t, convNet(), onnxfp16.Options{KeepFP32: []string{"Relu"}})
	g := got.GetGraph()
	ops := make([]string, len(g.Node))
	for i, n := range g.Node {
		ops[i] = n.GetOpType()
	}
	require.Equal(t, []string{"Cast", "Conv", "Cast", "Relu", "Cast", "Reshape", "Cast"}, ops)
	require.Equal(t, int64(onnxfp16.TypeFloat), g.Node[2].Attribute[0].GetI(), "to FP32 before Relu")
	require.Equal(t, int64(onnxfp16.TypeFloat16), g.Node[4].Attribute[0].GetI(), "back to FP16 after Relu")
	require.Equal(t, g.Node[2].Output[0], g.Node[3].Input[0])
	require.Equal(t, "r", g.Node[3].Output[0])
	require.Equal(t, g.Node[4].Output[0], g.Node[5].Input[0])
	require.Equal(t, map[string]int{"Relu": 1}, rep.KeptOps)
	require.Equal(t, 2, rep.FP16Nodes)
	require.Equal(t, 4, rep.CastsInserted)

	// Keeping the only consumer of a weight in FP32 leaves the weight FP32.
	got, _ = convert(t, convNet(), onnxfp16.Options{KeepFP32: []string{"Conv"}})
	require.Equal(t, onnxfp16.TypeFloat, initializer(got.Graph, "W").GetDataType())
	require.Equal(t, "X", got.Graph.Node[0].Input[0], "FP32 Conv reads the graph input directly")
}

func TestConvertAttributesAndFP32Inputs(t *testing.T) {
	t.Parallel()
	// Y = Resize(X·k + float(I) + ConstantOfShape(shape)), k a Constant.
	m := model(13, &onnxpb.GraphProto{
		Node: []*onnxpb.NodeProto{
			node("Constant", nil, []string{"k"}, &onnxpb.AttributeProto{Name: p("value_float"), Type: p(int32(1)), F: p(float32(2.5))}),
			node("Mul", []string{"X", "k"}, []string{"xk"}),
			node("Cast", []string{"I"}, []string{"fi"}, intAttr("to", int64(onnxfp16.TypeFloat))),
			node("Add", []string{"xk", "fi"}, []string{"s"}),
			node("ConstantOfShape", []string{"cshape"}, []string{"z"}),
			node("Add", []string{"s", "z"}, []string{"s2"}),
			node("Resize", []string{"s2", "", "scales"}, []string{"Y"}),
		},
		Initializer: []*onnxpb.TensorProto{int64Init("cshape", 1, 1, 2, 2), floatTensor("scales", []int64{4}, 1, 1, 2, 2)},
		Input: []*onnxpb.ValueInfoProto{valueInfo("X", onnxfp16.TypeFloat, 1, 1, 2, 2),
			valueInfo("I", onnxfp16.TypeInt64, 1, 1, 2, 2)},
		Output: []*onnxpb.ValueInfoProto{valueInfo("Y", onnxfp16.TypeFloat, 1, 1, 4, 4)},
	})
	got, rep := convert(t, m, onnxfp16.Options{})
	byOut := map[string]*onnxpb.NodeProto{}
	for _, n := range got.Graph.Node {
		byOut[n.Output[0]] = n
	}
	k := byOut["k"].Attribute[0]
	require.Equal(t, "value", k.GetName())
	require.Equal(t, onnxfp16.TypeFloat16, k.GetT().GetDataType())
	require.Equal(t, []uint16{0x4100}, halves(k.GetT()), "2.5 in FP16")
	require.Equal(t, int64(onnxfp16.TypeFloat16), byOut["fi"].Attribute[0].GetI(), "Cast to FLOAT becomes FLOAT16")
	require.Equal(t, onnxfp16.TypeFloat16, byOut["z"].Attribute[0].GetT().GetDataType(), "ConstantOfShape value made explicit")
	require.Equal(t, onnxfp16.TypeFloat, initializer(got.Graph, "scales").GetDataType(), "Resize scales stay FLOAT")
	require.Equal(t, onnxfp16.TypeInt64, elemType(got.Graph.Input[1]))
	require.Equal(t, 7, rep.FP16Nodes)
	require.Equal(t, 2, rep.CastsInserted)
	require.Equal(t, 0, rep.ReshapesFixed)

	// And ONNX Runtime agrees with the FP32 graph.
	orttest.Require(t)
	x := []float32{0.5, -1, 2, 4}
	i := []int64{1, 2, 3, -4}
	want := runGeneric(t, encode(t, m), x, i)
	have := runGeneric(t, encode(t, got), x, i)
	require.Equal(t, want, have, "all values are exact in FP16")
}

func TestConvertConstantOfShapeBatch(t *testing.T) {
	t.Parallel()
	// tf2onnx channel padding: Y = Concat(Relu(X), zeros[1,2,4,4]) on axis 1.
	m := model(12, &onnxpb.GraphProto{
		Node: []*onnxpb.NodeProto{
			node("ConstantOfShape", []string{"pshape"}, []string{"pad"}),
			node("Relu", []string{"X"}, []string{"r"}),
			node("Concat", []string{"r", "pad"}, []string{"Y"}, intAttr("axis", 1)),
		},
		Initializer: []*onnxpb.TensorProto{int64Init("pshape", 1, 2, 4, 4)},
		Input:       []*onnxpb.ValueInfoProto{valueInfo("X", onnxfp16.TypeFloat, 1, 2, 4, 4)},
		Output:      []*onnxpb.ValueInfoProto{valueInfo("Y", onnxfp16.TypeFloat, 1, 4, 4, 4)},
	})
	out, rep, err := onnxfp16.Convert(encode(t, m), onnxfp16.Options{})
	require.NoError(t, err)
	require.Equal(t, 1, rep.ConstantOfShapesFixed)
	require.Equal(t, 3, rep.BatchNodesAdded)
	got, err := onnxfp16.Decode(out)
	require.NoError(t, err)
	require.Nil(t, initializer(got.Graph, "pshape"), "the unused batch-1 shape is dropped")

	orttest.Require(t)
	x := ramp(3*2*4*4, 0.5)
	y, shape := runBatch(t, out, []int64{3, 2, 4, 4}, x)
	require.Equal(t, []int64{3, 4, 4, 4}, shape)
	for b := range 3 {
		for c := range 4 {
			for j := range 16 {
				v := y[(b*4+c)*16+j]
				if c >= 2 {
					require.Zero(t, v, "padding")
					continue
				}
				require.Equal(t, max(x[(b*2+c)*16+j], 0), v)
			}
		}
	}
}

func TestConvertErrors(t *testing.T) {
	t.Parallel()
	_, _, err := onnxfp16.Convert([]byte("not a model"), onnxfp16.Options{})
	require.ErrorIs(t, err, onnxfp16.ErrInvalidModel)
	_, _, err = onnxfp16.Convert(nil, onnxfp16.Options{})
	require.ErrorIs(t, err, onnxfp16.ErrInvalidModel, "no graph")

	sub := convNet()
	sub.Graph.Node[1].Attribute = append(sub.Graph.Node[1].Attribute, &onnxpb.AttributeProto{Name: p("then_branch"), G: &onnxpb.GraphProto{}})
	_, _, err = onnxfp16.Convert(encode(t, sub), onnxfp16.Options{})
	require.ErrorIs(t, err, onnxfp16.ErrUnsupported)

	custom := convNet()
	custom.Graph.Node[1].Domain = p("com.example")
	_, _, err = onnxfp16.Convert(encode(t, custom), onnxfp16.Options{})
	require.ErrorIs(t, err, onnxfp16.ErrUnsupported)

	unknown := convNet()
	unknown.Graph.Node[1].OpType = p("MysteryOp")
	unknown.Graph.ValueInfo = nil
	_, _, err = onnxfp16.Convert(encode(t, unknown), onnxfp16.Options{})
	require.ErrorIs(t, err, onnxfp16.ErrUnsupported)
	unknown.Graph.ValueInfo = []*onnxpb.ValueInfoProto{valueInfo("r", onnxfp16.TypeFloat, 1, 2, 4, 4)}
	_, _, err = onnxfp16.Convert(encode(t, unknown), onnxfp16.Options{})
	require.NoError(t, err, "value_info tells the type")

	once, _, err := onnxfp16.Convert(encode(t, convNet()), onnxfp16.Options{})
	require.NoError(t, err)
	_, _, err = onnxfp16.Convert(once, onnxfp16.Options{})
	require.ErrorIs(t, err, onnxfp16.ErrConverted, "converting an output again")

	external := convNet()
	external.Graph.Initializer[0].DataLocation = p(int32(1))
	_, _, err = onnxfp16.Convert(encode(t, external), onnxfp16.Options{})
	require.ErrorIs(t, err, onnxfp16.ErrUnsupported)
}

func TestRoundTripUnchanged(t *testing.T) {
	t.Parallel()
	for _, m := range []models.Model{models.DetectorShort, models.DetectorFull, models.Landmark} {
		for _, prec := range []models.Precision{models.FP32, models.FP16} {
			b, err := models.ONNX(m, prec)
			require.NoError(t, err)
			d, err := onnxfp16.Decode(b)
			require.NoError(t, err)
			require.True(t, bytes.Equal(b, encode(t, d)), "%s %s: decode→encode changed bytes", m, prec)
		}
	}
}

func TestUnknownFieldsSurvive(t *testing.T) {
	t.Parallel()
	src := convNet()
	// A field this subset does not know, inside a node and at the top.
	nodeExtra := protowire.AppendTag(nil, 900, protowire.BytesType)
	nodeExtra = protowire.AppendString(nodeExtra, "node-extension")
	src.Graph.Node[1].ProtoReflect().SetUnknown(nodeExtra)
	b := encode(t, src)
	top := protowire.AppendTag(nil, 20, protowire.BytesType) // training_info
	top = protowire.AppendBytes(top, []byte{0x0a, 0x00})
	b = append(b, top...)

	d, err := onnxfp16.Decode(b)
	require.NoError(t, err)
	require.Equal(t, b, encode(t, d), "decode→encode keeps unknown fields byte for byte")

	out, _, err := onnxfp16.Convert(b, onnxfp16.Options{})
	require.NoError(t, err)
	got, err := onnxfp16.Decode(out)
	require.NoError(t, err)
	require.Equal(t, top, []byte(got.ProtoReflect().GetUnknown()))
	var found bool
	for _, n := range got.Graph.Node {
		if n.GetOpType() == "Relu" {
			require.Equal(t, nodeExtra, []byte(n.ProtoReflect().GetUnknown()))
			found = true
		}
	}
	require.True(t, found)
}

func TestConvertDeterministic(t *testing.T) {
	t.Parallel()
	for _, m := range []models.Model{models.DetectorShort, models.DetectorFull, models.Landmark} {
		fp32, err := models.ONNX(m, models.FP32)
		require.NoError(t, err)
		a, _, err := onnxfp16.Convert(fp32, onnxfp16.Options{})
		require.NoError(t, err)
		b, _, err := onnxfp16.Convert(fp32, onnxfp16.Options{})
		require.NoError(t, err)
		require.True(t, bytes.Equal(a, b), "%s: two conversions differ", m)
		shipped, err := models.ONNX(m, models.FP16)
		require.NoError(t, err)
		require.True(t, bytes.Equal(a, shipped), "%s: %s is stale, run go generate ./models", m, models.FileName(m, models.FP16))
	}
}
