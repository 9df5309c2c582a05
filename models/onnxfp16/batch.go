package onnxfp16

import (
	"fmt"

	"github.com/facefleet/facefleet/models/onnxfp16/onnxpb"
)

type use struct {
	node int // index into g.Node
	pos  int // input position
}

// dynamicBatch rewrites constants that pin the batch dimension to 1:
//   - Reshape with a constant shape [1, …]: the 1 becomes -1 (or 0, "copy
//     the input's dim", when the shape already has a -1);
//   - ConstantOfShape with a constant shape [1, …] feeding a Concat along a
//     non-batch axis (tf2onnx's channel padding): the shape is built at run
//     time from the batch of the Concat's other input
//     (Shape → Gather[0] → Concat with the constant tail), and the node moves
//     next to its consumer.
//
// A leading 1 that only broadcasts (PRelu slopes, Add operands) is left alone.
func (c *converter) dynamicBatch() error {
	g := c.g
	inits := c.initializers()
	uses := map[string][]use{}
	for i, n := range g.Node {
		for p, in := range n.Input {
			uses[in] = append(uses[in], use{i, p})
		}
	}
	graphOut := c.graphOutputs()

	// moved[i] holds nodes to emit right before node i.
	moved := map[int][]*onnxpb.NodeProto{}
	skip := map[int]bool{}
	batchOf := map[string]string{} // source value → its [N] tensor
	tailOf := map[string]string{}  // shape initializer → its tail without the batch
	var zeroIndex string

	for i, n := range g.Node {
		switch n.GetOpType() {
		case "Reshape":
			if len(n.Input) < 2 {
				continue
			}
			if _, constData := inits[n.Input[0]]; constData {
				continue
			}
			t, ok := inits[n.Input[1]]
			if !ok {
				continue
			}
			v, ok := int64sOf(t)
			if !ok || len(v) == 0 || v[0] != 1 {
				continue
			}
			lead := int64(-1)
			for _, x := range v[1:] {
				if x == -1 {
					lead = 0
				}
			}
			v[0] = lead
			if len(uses[t.GetName()]) > 1 || graphOut[t.GetName()] {
				t = int64Tensor(c.unique(t.GetName()+"_batch"), v)
				g.Initializer = append(g.Initializer, t)
				c.types[t.GetName()] = TypeInt64
				n.Input[1] = t.GetName()
			} else {
				setInt64s(t, v)
			}
			c.rep.ReshapesFixed++

		case "ConstantOfShape":
			if len(n.Input) < 1 || len(n.Output) < 1 {
				continue
			}
			t, ok := inits[n.Input[0]]
			if !ok {
				continue
			}
			v, ok := int64sOf(t)
			if !ok || len(v) < 2 || v[0] != 1 {
				continue
			}
			us := uses[n.Output[0]]
			if len(us) != 1 || graphOut[n.Output[0]] {
				continue
			}
			consumer := g.Node[us[0].node]
			if consumer.GetOpType() != "Concat" {
				continue
			}
			axis := attr(consumer, "axis").GetI()
			if axis < 0 {
				axis += int64(len(v))
			}
			if axis == 0 {
				continue
			}
			src := ""
			for _, in := range consumer.Input {
				if _, isConst := inits[in]; in != n.Output[0] && in != "" && !isConst {
					src = in
					break
				}
			}
			if src == "" {
				return fmt.Errorf("%w: ConstantOfShape %q feeds Concat %q with no batched input",
					ErrUnsupported, n.GetName(), consumer.GetName())
			}
			var chain []*onnxpb.NodeProto
			batch, ok := batchOf[src]
			if !ok {
				if zeroIndex == "" {
					zeroIndex = c.unique("onnxfp16_batch_index")
					g.Initializer = append(g.Initializer, int64Tensor(zeroIndex, []int64{0}))
					c.types[zeroIndex] = TypeInt64
				}
				shape := c.unique(src + "_shape")
				batch = c.unique(src + "_batch")
				chain = append(chain,
					&onnxpb.NodeProto{Name: ptr(shape), OpType: ptr("Shape"), Input: []string{src}, Output: []string{shape}},
					&onnxpb.NodeProto{Name: ptr(batch), OpType: ptr("Gather"), Input: []string{shape, zeroIndex}, Output: []string{batch},
						Attribute: []*onnxpb.AttributeProto{{Name: ptr("axis"), Type: ptr(attrInt), I: ptr(int64(0))}}},
				)
				c.types[shape], c.types[batch] = TypeInt64, TypeInt64
				batchOf[src] = batch
			}
			tail, ok := tailOf[t.GetName()]
			if !ok {
				tail = c.unique(t.GetName() + "_tail")
				g.Initializer = append(g.Initializer, int64Tensor(tail, v[1:]))
				tailOf[t.GetName()] = tail
			}
			full := c.unique(t.GetName() + "_batched")
			chain = append(chain, &onnxpb.NodeProto{Name: ptr(full), OpType: ptr("Concat"), Input: []string{batch, tail}, Output: []string{full},
				Attribute: []*onnxpb.AttributeProto{{Name: ptr("axis"), Type: ptr(attrInt), I: ptr(int64(0))}}})
			c.types[tail], c.types[full] = TypeInt64, TypeInt64
			c.rep.BatchNodesAdded += len(chain)
			n.Input[0] = full
			moved[us[0].node] = append(moved[us[0].node], append(chain, n)...)
			skip[i] = true
			c.rep.ConstantOfShapesFixed++
		}
	}
	if len(moved) == 0 {
		return nil
	}
	nodes := make([]*onnxpb.NodeProto, 0, len(g.Node)+c.rep.BatchNodesAdded)
	for i, n := range g.Node {
		if skip[i] {
			continue
		}
		nodes = append(nodes, moved[i]...)
		nodes = append(nodes, n)
	}
	g.Node = nodes
	c.pruneInitializers(uses)
	return nil
}

// pruneInitializers drops initializers that dynamicBatch left unused. Ones
// that were unused in the input model are kept: not ours to judge.
func (c *converter) pruneInitializers(origUses map[string][]use) {
	used := map[string]bool{}
	for _, n := range c.g.Node {
		for _, in := range n.Input {
			used[in] = true
		}
	}
	for _, o := range c.g.Output {
		used[o.GetName()] = true
	}
	kept := c.g.Initializer[:0]
	for _, t := range c.g.Initializer {
		if used[t.GetName()] || len(origUses[t.GetName()]) == 0 {
			kept = append(kept, t)
		}
	}
	c.g.Initializer = kept
}
