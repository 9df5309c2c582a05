package onnxfp16

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/facefleet/facefleet/models/onnxfp16/onnxpb"
)

// DefaultBatchParam is the dim_param given to the batch dimension.
const DefaultBatchParam = "N"

// MetadataKey is the metadata_props key the converter writes.
const MetadataKey = "facefleet.onnxfp16"

// DefaultKeepFP32 returns the op types kept in FP32 by default: none. The
// default output is a full FP16 graph, meant for GPU providers (CUDA,
// TensorRT), which have FP16 kernels for every op in facefleet's models.
// ONNX Runtime's CPU provider still runs such a graph: at session creation
// it puts Casts around the nodes it has no FP16 kernel for (see
// CPUNoFP16Kernels) and computes those in FP32.
func DefaultKeepFP32() []string { return []string{} }

// CPUNoFP16Kernels returns the op types, among those facefleet's models use
// or are likely to, that ONNX Runtime 1.30's CPU provider has no FP16 kernel
// for on x86-64 (measured on an AMD EPYC without AVX512-FP16; ARM64 builds
// have more). Pass it as Options.KeepFP32 to make the FP32 islands explicit
// in the file instead of leaving them to ORT. TestORTFP16Kernels re-measures
// the list against the installed runtime.
func CPUNoFP16Kernels() []string {
	return []string{"Add", "Conv", "MaxPool", "Mul", "PRelu", "Relu", "Resize", "Sigmoid"}
}

// Options controls a conversion. The zero value is the default.
type Options struct {
	// KeepFP32 lists op types (default domain) that stay in FP32 with Casts
	// around them. nil means DefaultKeepFP32(); an empty non-nil slice keeps
	// nothing.
	KeepFP32 []string
	// StaticBatch leaves the batch dimension as it is. By default the
	// leading dimension of graph inputs and outputs becomes BatchParam and
	// Reshape / ConstantOfShape constants that hard-code batch 1 are
	// rewritten.
	StaticBatch bool
	// BatchParam is the dim_param name for the batch dimension
	// (default DefaultBatchParam).
	BatchParam string
}

// Report says what a conversion did.
type Report struct {
	Nodes                 int            // nodes in the input graph
	FP16Nodes             int            // nodes now computing in FP16
	FP32Nodes             int            // float nodes kept in FP32
	KeptOps               map[string]int // op type → nodes kept in FP32
	OtherNodes            int            // nodes without float data (shape arithmetic)
	CastsInserted         int            // Cast nodes added (boundary and FP32 islands)
	BatchNodesAdded       int            // Shape/Gather/Concat nodes added for the dynamic batch
	InitializersConverted int            // FLOAT initializers stored as FLOAT16
	WeightsConverted      int            // float values in those initializers and constants
	Clamped               int            // weights clamped to ±65504
	FlushedToZero         int            // nonzero weights too small for FP16, now zero
	Subnormal             int            // weights stored as FP16 subnormals (|w| < 2⁻¹⁴)
	ReshapesFixed         int            // Reshape shapes whose leading 1 became -1 or 0
	ConstantOfShapesFixed int            // ConstantOfShape shapes now taking the batch at run time
	ValueInfoDropped      int            // intermediate value_info entries removed
	PReluFused            int            // four-op PReLUs made one PRelu again (FusePRelu)
	BytesBefore           int            // encoded size before (Convert only)
	BytesAfter            int            // encoded size after (Convert only)
}

// String is a one-line summary.
func (r Report) String() string {
	kept := make([]string, 0, len(r.KeptOps))
	for op, n := range r.KeptOps {
		kept = append(kept, op+"×"+strconv.Itoa(n))
	}
	sort.Strings(kept)
	return fmt.Sprintf("nodes %d: fp16 %d, fp32 %d [%s], other %d; casts +%d; batch nodes +%d; "+
		"initializers→fp16 %d (%d values, clamped %d, flushed %d, subnormal %d); reshapes fixed %d; constantofshape fixed %d; "+
		"value_info dropped %d; prelu fused %d; bytes %d → %d",
		r.Nodes, r.FP16Nodes, r.FP32Nodes, strings.Join(kept, " "), r.OtherNodes, r.CastsInserted, r.BatchNodesAdded,
		r.InitializersConverted, r.WeightsConverted, r.Clamped, r.FlushedToZero, r.Subnormal, r.ReshapesFixed, r.ConstantOfShapesFixed,
		r.ValueInfoDropped, r.PReluFused, r.BytesBefore, r.BytesAfter)
}

// Convert decodes an FP32 ONNX model, converts it (see ConvertModel) and
// returns the encoded FP16 model. The output is deterministic.
func Convert(model []byte, opts Options) ([]byte, Report, error) {
	m, err := Decode(model)
	if err != nil {
		return nil, Report{}, err
	}
	rep, err := ConvertModel(m, opts)
	if err != nil {
		return nil, rep, err
	}
	out, err := Encode(m)
	if err != nil {
		return nil, rep, err
	}
	rep.BytesBefore, rep.BytesAfter = len(model), len(out)
	return out, rep, nil
}

// ConvertModel rewrites m in place:
//   - every FLOAT initializer, constant and activation becomes FLOAT16,
//     except where an op needs FP32 (ops in KeepFP32, Resize scales/roi);
//   - FLOAT graph inputs and outputs stay FLOAT, with Casts behind the
//     inputs and before the outputs;
//   - unless StaticBatch, the batch dimension becomes dynamic;
//   - intermediate value_info is dropped (ONNX Runtime re-infers it).
//
// On error m may be partly rewritten; discard it.
func ConvertModel(m *onnxpb.ModelProto, opts Options) (Report, error) {
	var rep Report
	g := m.GetGraph()
	if g == nil {
		return rep, fmt.Errorf("%w: no graph", ErrInvalidModel)
	}
	for _, kv := range m.MetadataProps {
		if kv.GetKey() == MetadataKey {
			return rep, fmt.Errorf("%w (%s)", ErrConverted, kv.GetValue())
		}
	}
	if err := checkSupported(g); err != nil {
		return rep, err
	}
	rep.Nodes = len(g.Node)
	// The FP16 files are for GPUs, whose providers run PRelu as one kernel.
	rep.PReluFused = FusePRelu(g)
	c := &converter{g: g, names: map[string]bool{}, rep: &rep}
	c.collectNames()
	types, err := inferTypes(g)
	if err != nil {
		return rep, err
	}
	c.types = types
	if !opts.StaticBatch {
		if err := c.dynamicBatch(); err != nil {
			return rep, err
		}
	}
	keep := opts.KeepFP32
	if keep == nil {
		keep = DefaultKeepFP32()
	}
	if err := c.precision(keep); err != nil {
		return rep, err
	}
	rep.ValueInfoDropped = len(g.ValueInfo)
	g.ValueInfo = nil
	if !opts.StaticBatch {
		param := opts.BatchParam
		if param == "" {
			param = DefaultBatchParam
		}
		inits := c.initializers()
		for _, vi := range slices.Concat(g.Input, g.Output) {
			if _, isInit := inits[vi.GetName()]; !isInit {
				setBatchParam(vi, param)
			}
		}
	}
	setMetadata(m, fmt.Sprintf("fp16 weights and activations, fp32 graph inputs/outputs; kept fp32: [%s]; batch: %s",
		strings.Join(keep, ","), map[bool]string{true: "static", false: "dynamic"}[opts.StaticBatch]))
	return rep, nil
}

func checkSupported(g *onnxpb.GraphProto) error {
	for _, n := range g.Node {
		if d := n.GetDomain(); d != "" && d != "ai.onnx" {
			return fmt.Errorf("%w: node %q op %s in domain %q", ErrUnsupported, n.GetName(), n.GetOpType(), d)
		}
		for _, a := range n.Attribute {
			if a.G != nil || len(a.Graphs) > 0 {
				return fmt.Errorf("%w: node %q (%s) has a subgraph", ErrUnsupported, n.GetName(), n.GetOpType())
			}
		}
	}
	for _, t := range g.Initializer {
		if t.GetDataLocation() != 0 || len(t.ExternalData) > 0 {
			return fmt.Errorf("%w: initializer %q uses external data", ErrUnsupported, t.GetName())
		}
	}
	return nil
}

func setBatchParam(vi *onnxpb.ValueInfoProto, param string) {
	shape := vi.GetType().GetTensorType().GetShape()
	if shape == nil || len(shape.Dim) == 0 {
		return
	}
	d := shape.Dim[0]
	if v, ok := d.Value.(*onnxpb.TensorShapeProto_Dimension_DimValue); ok && v.DimValue == 1 {
		d.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: param}
	}
}

func setMetadata(m *onnxpb.ModelProto, value string) {
	for _, p := range m.MetadataProps {
		if p.GetKey() == MetadataKey {
			p.Value = ptr(value)
			return
		}
	}
	m.MetadataProps = append(m.MetadataProps, &onnxpb.StringStringEntryProto{Key: ptr(MetadataKey), Value: ptr(value)})
}

// converter holds the state of one conversion.
type converter struct {
	g     *onnxpb.GraphProto
	types map[string]int32 // value name → element type (original precision)
	names map[string]bool  // every value and node name in use
	rep   *Report
}

func (c *converter) collectNames() {
	for _, vi := range slices.Concat(c.g.Input, c.g.Output, c.g.ValueInfo) {
		c.names[vi.GetName()] = true
	}
	for _, t := range c.g.Initializer {
		c.names[t.GetName()] = true
	}
	for _, n := range c.g.Node {
		c.names[n.GetName()] = true
		for _, s := range slices.Concat(n.Input, n.Output) {
			c.names[s] = true
		}
	}
}

// unique returns base, or base with a numeric suffix, unused so far, and
// reserves it.
func (c *converter) unique(base string) string {
	name := base
	for i := 1; c.names[name]; i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	c.names[name] = true
	return name
}

func (c *converter) initializers() map[string]*onnxpb.TensorProto {
	m := make(map[string]*onnxpb.TensorProto, len(c.g.Initializer))
	for _, t := range c.g.Initializer {
		m[t.GetName()] = t
	}
	return m
}

func (c *converter) graphOutputs() map[string]bool {
	m := make(map[string]bool, len(c.g.Output))
	for _, o := range c.g.Output {
		m[o.GetName()] = true
	}
	return m
}

func attr(n *onnxpb.NodeProto, name string) *onnxpb.AttributeProto {
	for _, a := range n.Attribute {
		if a.GetName() == name {
			return a
		}
	}
	return nil
}

func castNode(name, in, out string, to int32) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{
		Name: ptr(name), OpType: ptr("Cast"), Input: []string{in}, Output: []string{out},
		Attribute: []*onnxpb.AttributeProto{{Name: ptr("to"), Type: ptr(attrInt), I: ptr(int64(to))}},
	}
}

// AttributeProto.AttributeType values used here.
const (
	attrFloat  int32 = 1
	attrInt    int32 = 2
	attrTensor int32 = 4
	attrFloats int32 = 6
	attrInts   int32 = 7
)
