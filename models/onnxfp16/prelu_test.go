package onnxfp16

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/facefleet/facefleet/models/onnxfp16/onnxpb"
)

// fourOpPRelu is x → Relu → Sub → Mul(alpha) → Add → y, as models/tflite
// writes a PReLU, followed by a Sigmoid on y.
func fourOpPRelu() *onnxpb.GraphProto {
	node := func(name, op string, out string, in ...string) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{Name: proto.String(name), OpType: proto.String(op), Input: in, Output: []string{out}}
	}
	return &onnxpb.GraphProto{
		Node: []*onnxpb.NodeProto{
			node("PRelu_1/relu", "Relu", "y/relu", "x"),
			node("PRelu_1/neg", "Sub", "y/neg", "x", "y/relu"),
			node("PRelu_1/scaled", "Mul", "y/scaled", "y/neg", "alpha"),
			node("PRelu_1", "Add", "y", "y/relu", "y/scaled"),
			node("out", "Sigmoid", "z", "y"),
		},
		Initializer: []*onnxpb.TensorProto{{Name: proto.String("alpha"), Dims: []int64{2, 1, 1}, DataType: proto.Int32(1), FloatData: []float32{0.25, -2}}},
		Output:      []*onnxpb.ValueInfoProto{{Name: proto.String("z")}},
	}
}

func TestFusePReluMakesOnePRelu(t *testing.T) {
	g := fourOpPRelu()
	require.Equal(t, 1, FusePRelu(g))
	require.Len(t, g.Node, 2)
	p := g.Node[0]
	require.Equal(t, "PRelu", p.GetOpType())
	require.Equal(t, "PRelu_1", p.GetName())
	require.Equal(t, []string{"x", "alpha"}, p.Input)
	require.Equal(t, []string{"y"}, p.Output)
	require.Equal(t, "Sigmoid", g.Node[1].GetOpType())
	require.Zero(t, FusePRelu(g), "nothing left to fuse")
}

func TestFusePReluLeavesOtherGraphsAlone(t *testing.T) {
	for name, spoil := range map[string]func(g *onnxpb.GraphProto){
		"relu used elsewhere": func(g *onnxpb.GraphProto) {
			g.Node = append(g.Node, &onnxpb.NodeProto{OpType: proto.String("Exp"), Input: []string{"y/relu"}, Output: []string{"e"}})
		},
		"inner tensor is a graph output": func(g *onnxpb.GraphProto) {
			g.Output = append(g.Output, &onnxpb.ValueInfoProto{Name: proto.String("y/scaled")})
		},
		"slope not an initializer": func(g *onnxpb.GraphProto) { g.Initializer = nil },
		"sub of another tensor":    func(g *onnxpb.GraphProto) { g.Node[1].Input[0] = "w" },
		"sub the other way round": func(g *onnxpb.GraphProto) {
			g.Node[1].Input[0], g.Node[1].Input[1] = g.Node[1].Input[1], g.Node[1].Input[0]
		},
	} {
		t.Run(name, func(t *testing.T) {
			g := fourOpPRelu()
			spoil(g)
			before := len(g.Node)
			require.Zero(t, FusePRelu(g))
			require.Len(t, g.Node, before)
		})
	}
}
