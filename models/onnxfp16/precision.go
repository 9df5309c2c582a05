package onnxfp16

import (
	"fmt"

	"github.com/facefleet/facefleet/models/onnxfp16/onnxpb"
)

// anyTypeInputs are input positions that accept any element type (no Cast).
var anyTypeInputs = map[string]map[int]bool{
	"Shape": {0: true},
	"Size":  {0: true},
}

// fp32Inputs are float input positions that stay FLOAT even when the op
// runs in FP16 (their type is not the op's T).
var fp32Inputs = map[string]map[int]bool{
	"Resize":   {1: true, 2: true}, // roi, scales
	"Upsample": {1: true},          // scales
}

type precisionMode int

const (
	modeOther precisionMode = iota // no float data
	modeFP16
	modeFP32
)

// precision converts the graph's float data to FP16, keeping graph I/O and
// the ops in keep in FP32 with Casts between.
func (c *converter) precision(keep []string) error {
	g := c.g
	keepSet := map[string]bool{}
	for _, op := range keep {
		keepSet[op] = true
	}
	modes := make([]precisionMode, len(g.Node))
	for i, n := range g.Node {
		modes[i] = c.mode(n, keepSet)
		switch modes[i] {
		case modeFP16:
			c.rep.FP16Nodes++
		case modeFP32:
			c.rep.FP32Nodes++
			if c.rep.KeptOps == nil {
				c.rep.KeptOps = map[string]int{}
			}
			c.rep.KeptOps[n.GetOpType()]++
		default:
			c.rep.OtherNodes++
		}
	}
	// The batch rewrite adds shape nodes; count only the input graph's.
	c.rep.OtherNodes -= len(g.Node) - c.rep.Nodes

	// avail[v][t] is the name under which float value v exists as type t.
	avail := map[string]map[int32]string{}
	for _, vi := range g.Input {
		if c.types[vi.GetName()] == TypeFloat {
			avail[vi.GetName()] = map[int32]string{TypeFloat: vi.GetName()}
		}
	}
	// An initializer becomes FP16 if any consumer wants it so.
	wantHalf := map[string]bool{}
	for i, n := range g.Node {
		for p := range n.Input {
			if c.needs(n, p, modes[i]) == TypeFloat16 {
				wantHalf[n.Input[p]] = true
			}
		}
	}
	graphOut := c.graphOutputs()
	var st halfStats
	for _, t := range g.Initializer {
		if t.GetDataType() != TypeFloat {
			continue
		}
		// An initializer that is also a graph output keeps its FLOAT type.
		if wantHalf[t.GetName()] && !graphOut[t.GetName()] {
			if err := toHalf(t, &st); err != nil {
				return err
			}
			c.rep.InitializersConverted++
			c.rep.WeightsConverted += len(t.GetRawData()) / 2
			avail[t.GetName()] = map[int32]string{TypeFloat16: t.GetName()}
		} else {
			avail[t.GetName()] = map[int32]string{TypeFloat: t.GetName()}
		}
	}
	nodes := make([]*onnxpb.NodeProto, 0, len(g.Node)+8)
	get := func(v string, want int32) (string, error) {
		a := avail[v]
		if name, ok := a[want]; ok {
			return name, nil
		}
		from, ok := a[other(want)]
		if !ok {
			return "", fmt.Errorf("%w: float value %q used before it is produced", ErrInvalidModel, v)
		}
		suffix := "_fp16"
		if want == TypeFloat {
			suffix = "_fp32"
		}
		out := c.unique(v + suffix)
		nodes = append(nodes, castNode(out, from, out, want))
		c.rep.CastsInserted++
		a[want] = out
		return out, nil
	}

	for i, n := range g.Node {
		for p, in := range n.Input {
			want := c.needs(n, p, modes[i])
			if want == 0 {
				if a, ok := avail[in]; ok && anyTypeInputs[n.GetOpType()][p] {
					// Any type will do: prefer what exists in FP16.
					if name, ok := a[TypeFloat16]; ok {
						n.Input[p] = name
					} else {
						n.Input[p] = a[TypeFloat]
					}
				}
				continue
			}
			name, err := get(in, want)
			if err != nil {
				return err
			}
			n.Input[p] = name
		}
		switch modes[i] {
		case modeFP16:
			if err := c.halfAttributes(n, &st); err != nil {
				return err
			}
			for j, o := range n.Output {
				if c.types[o] != TypeFloat {
					continue
				}
				name := o
				if graphOut[o] {
					name = c.unique(o + "_fp16")
					n.Output[j] = name
				}
				avail[o] = map[int32]string{TypeFloat16: name}
			}
		case modeFP32:
			for _, o := range n.Output {
				if c.types[o] == TypeFloat {
					avail[o] = map[int32]string{TypeFloat: o}
				}
			}
		}
		nodes = append(nodes, n)
	}
	for _, o := range g.Output {
		name := o.GetName()
		if c.types[name] != TypeFloat {
			continue
		}
		a := avail[name]
		if a[TypeFloat] == name {
			continue
		}
		from, ok := a[TypeFloat16]
		if !ok {
			return fmt.Errorf("%w: graph output %q is never produced", ErrInvalidModel, name)
		}
		nodes = append(nodes, castNode(c.unique(name+"_cast"), from, name, TypeFloat))
		c.rep.CastsInserted++
	}
	g.Node = nodes
	c.rep.Clamped, c.rep.FlushedToZero, c.rep.Subnormal = st.clamped, st.flushed, st.subnorm
	return nil
}

func other(t int32) int32 {
	if t == TypeFloat {
		return TypeFloat16
	}
	return TypeFloat
}

// mode says how node n computes after conversion.
func (c *converter) mode(n *onnxpb.NodeProto, keep map[string]bool) precisionMode {
	float := false
	for p, in := range n.Input {
		if in != "" && c.types[in] == TypeFloat && !anyTypeInputs[n.GetOpType()][p] {
			float = true
		}
	}
	for _, o := range n.Output {
		if c.types[o] == TypeFloat {
			float = true
		}
	}
	switch {
	case !float:
		return modeOther
	case keep[n.GetOpType()]:
		return modeFP32
	default:
		return modeFP16
	}
}

// needs returns the float type input p of n must have (0: no constraint).
func (c *converter) needs(n *onnxpb.NodeProto, p int, mode precisionMode) int32 {
	in := n.Input[p]
	op := n.GetOpType()
	if in == "" || c.types[in] != TypeFloat || anyTypeInputs[op][p] {
		return 0
	}
	if mode == modeFP16 && !fp32Inputs[op][p] {
		return TypeFloat16
	}
	return TypeFloat
}

// halfAttributes converts the float constants carried in attributes of a
// node that now computes in FP16: tensor attributes (Constant's value,
// ConstantOfShape's value), Constant's value_float(s), Cast's to=FLOAT.
func (c *converter) halfAttributes(n *onnxpb.NodeProto, st *halfStats) error {
	op := n.GetOpType()
	if op == "ConstantOfShape" && attr(n, "value") == nil {
		// The default value is a FLOAT zero; make it explicit in FP16.
		n.Attribute = append(n.Attribute, &onnxpb.AttributeProto{Name: ptr("value"), Type: ptr(attrTensor),
			T: &onnxpb.TensorProto{Dims: []int64{1}, DataType: ptr(TypeFloat16), RawData: []byte{0, 0}}})
	}
	for i, a := range n.Attribute {
		switch {
		case a.T != nil && a.T.GetDataType() == TypeFloat:
			if err := toHalf(a.T, st); err != nil {
				return err
			}
			c.rep.WeightsConverted += len(a.T.GetRawData()) / 2
		case op == "Cast" && a.GetName() == "to" && a.GetI() == int64(TypeFloat):
			a.I = ptr(int64(TypeFloat16))
		case op == "Constant" && a.GetName() == "value_float":
			t := &onnxpb.TensorProto{DataType: ptr(TypeFloat), FloatData: []float32{a.GetF()}}
			if err := toHalf(t, st); err != nil {
				return err
			}
			n.Attribute[i] = &onnxpb.AttributeProto{Name: ptr("value"), Type: ptr(attrTensor), T: t}
			c.rep.WeightsConverted++
		case op == "Constant" && a.GetName() == "value_floats":
			t := &onnxpb.TensorProto{Dims: []int64{int64(len(a.Floats))}, DataType: ptr(TypeFloat), FloatData: a.Floats}
			if err := toHalf(t, st); err != nil {
				return err
			}
			n.Attribute[i] = &onnxpb.AttributeProto{Name: ptr("value"), Type: ptr(attrTensor), T: t}
			c.rep.WeightsConverted += len(t.GetRawData()) / 2
		}
	}
	return nil
}
