package onnxfp16

import (
	"fmt"
	"slices"

	"github.com/facefleet/facefleet/models/onnxfp16/onnxpb"
)

// sameTypeAsInput0 lists ops whose outputs have the element type of their
// first input.
var sameTypeAsInput0 = map[string]bool{
	"Abs": true, "Add": true, "AveragePool": true, "BatchNormalization": true, "Clip": true,
	"Concat": true, "Conv": true, "ConvTranspose": true, "DepthToSpace": true, "Div": true,
	"Elu": true, "Erf": true, "Exp": true, "Expand": true, "Flatten": true, "Gather": true,
	"Gemm": true, "GlobalAveragePool": true, "GlobalMaxPool": true, "HardSigmoid": true,
	"HardSwish": true, "Identity": true, "InstanceNormalization": true, "LeakyRelu": true,
	"Log": true, "MatMul": true, "Max": true, "MaxPool": true, "Mean": true, "Min": true,
	"Mul": true, "Neg": true, "Pad": true, "Pow": true, "PRelu": true, "Reciprocal": true,
	"ReduceMax": true, "ReduceMean": true, "ReduceMin": true, "ReduceSum": true, "Relu": true,
	"Reshape": true, "Resize": true, "Sigmoid": true, "Slice": true, "Softmax": true,
	"SpaceToDepth": true, "Split": true, "Sqrt": true, "Squeeze": true, "Sub": true,
	"Tanh": true, "Tile": true, "Transpose": true, "Unsqueeze": true, "Upsample": true,
}

var boolOutput = map[string]bool{
	"And": true, "Equal": true, "Greater": true, "GreaterOrEqual": true, "IsInf": true,
	"IsNaN": true, "Less": true, "LessOrEqual": true, "Not": true, "Or": true, "Xor": true,
}

var int64Output = map[string]bool{
	"ArgMax": true, "ArgMin": true, "NonZero": true, "Shape": true, "Size": true,
}

// inferTypes returns the element type of every value in g, propagated in
// node order from graph inputs and initializers, falling back to value_info
// for ops it does not know.
func inferTypes(g *onnxpb.GraphProto) (map[string]int32, error) {
	declared := map[string]int32{}
	for _, vi := range slices.Concat(g.Input, g.Output, g.ValueInfo) {
		if tt := vi.GetType().GetTensorType(); tt != nil && tt.ElemType != nil {
			declared[vi.GetName()] = tt.GetElemType()
		}
	}
	types := map[string]int32{}
	for _, vi := range g.Input {
		if t, ok := declared[vi.GetName()]; ok {
			types[vi.GetName()] = t
		}
	}
	for _, t := range g.Initializer {
		types[t.GetName()] = t.GetDataType()
	}
	for _, n := range g.Node {
		op := n.GetOpType()
		var out int32
		switch {
		case sameTypeAsInput0[op] && len(n.Input) > 0:
			out = types[n.Input[0]]
		case op == "Where" && len(n.Input) > 1:
			out = types[n.Input[1]]
		case boolOutput[op]:
			out = TypeBool
		case int64Output[op]:
			out = TypeInt64
		case op == "Cast":
			out = int32(attr(n, "to").GetI())
		case op == "ConstantOfShape":
			out = TypeFloat
			if a := attr(n, "value"); a != nil && a.T != nil {
				out = a.T.GetDataType()
			}
		case op == "Constant":
			out = constantType(n)
		}
		for _, o := range n.Output {
			if o == "" {
				continue
			}
			t := out
			if t == 0 {
				t = declared[o]
			}
			if t == 0 {
				return nil, fmt.Errorf("%w: cannot tell the type of %q (output of %s node %q)",
					ErrUnsupported, o, op, n.GetName())
			}
			types[o] = t
		}
	}
	return types, nil
}

func constantType(n *onnxpb.NodeProto) int32 {
	for _, a := range n.Attribute {
		switch a.GetName() {
		case "value":
			return a.GetT().GetDataType()
		case "value_float", "value_floats":
			return TypeFloat
		case "value_int", "value_ints":
			return TypeInt64
		}
	}
	return 0
}
