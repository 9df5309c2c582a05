package onnxfp16

import (
	"google.golang.org/protobuf/proto"

	"github.com/facefleet/facefleet/models/onnxfp16/onnxpb"
)

// FusePRelu replaces every Relu(x) + alpha·(x − Relu(x)) — the four-op
// PReLU that models/tflite writes for ONNX Runtime's CPU provider — by one
// PRelu(x, alpha) node, the form GPU providers run as one kernel. The
// pattern must be exact: Relu r = Relu(x); Sub d = x − r; Mul s = d · alpha
// with alpha an initializer; Add y = r + s; r used only by the Sub and the
// Add, d only by the Mul, s only by the Add, none of them a graph output.
// The PRelu takes the Add's name and output and its place in the node
// order. It returns how many it fused.
func FusePRelu(g *onnxpb.GraphProto) int {
	producer := map[string]*onnxpb.NodeProto{}
	uses := map[string]int{}
	for _, n := range g.Node {
		for _, o := range n.Output {
			producer[o] = n
		}
		for _, in := range n.Input {
			uses[in]++
		}
	}
	for _, o := range g.Output {
		uses[o.GetName()] += 1 << 20 // a graph output is never an inner tensor
	}
	inits := map[string]bool{}
	for _, t := range g.Initializer {
		inits[t.GetName()] = true
	}
	is := func(n *onnxpb.NodeProto, op string, inputs int) bool {
		return n != nil && n.GetOpType() == op && n.GetDomain() == "" && len(n.Input) == inputs &&
			len(n.Output) == 1 && len(n.Attribute) == 0
	}
	drop := map[*onnxpb.NodeProto]bool{}
	fused := map[*onnxpb.NodeProto]*onnxpb.NodeProto{}
	for _, add := range g.Node {
		if !is(add, "Add", 2) {
			continue
		}
		relu, mul := producer[add.Input[0]], producer[add.Input[1]]
		if !is(relu, "Relu", 1) || !is(mul, "Mul", 2) || !inits[mul.Input[1]] {
			continue
		}
		sub := producer[mul.Input[0]]
		if !is(sub, "Sub", 2) || sub.Input[0] != relu.Input[0] || sub.Input[1] != relu.Output[0] {
			continue
		}
		if uses[relu.Output[0]] != 2 || uses[sub.Output[0]] != 1 || uses[mul.Output[0]] != 1 {
			continue
		}
		drop[relu], drop[sub], drop[mul] = true, true, true
		fused[add] = &onnxpb.NodeProto{
			Name: proto.String(add.GetName()), OpType: proto.String("PRelu"),
			Input: []string{relu.Input[0], mul.Input[1]}, Output: []string{add.Output[0]},
		}
	}
	if len(fused) == 0 {
		return 0
	}
	nodes := make([]*onnxpb.NodeProto, 0, len(g.Node)-3*len(fused))
	for _, n := range g.Node {
		switch {
		case drop[n]:
		case fused[n] != nil:
			nodes = append(nodes, fused[n])
		default:
			nodes = append(nodes, n)
		}
	}
	g.Node = nodes
	return len(fused)
}
