package onnxfp16_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	ort "github.com/yalue/onnxruntime_go"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/models/internal/orttest"
	"github.com/facefleet/facefleet/models/onnxfp16"
	"github.com/facefleet/facefleet/models/onnxfp16/onnxpb"
)

// kernelProbe is a one-node FP16 model: X [1,4,8,8] FLOAT16 → Y FLOAT16.
type kernelProbe struct {
	op    string
	extra []string              // inputs after X
	inits []*onnxpb.TensorProto // their values
	attrs []*onnxpb.AttributeProto
	out   []int64 // Y dims
}

func kernelProbes() []kernelProbe {
	return []kernelProbe{
		{op: "Conv", extra: []string{"W", "B"}, inits: []*onnxpb.TensorProto{
			halfTensor("W", []int64{4, 4, 3, 3}, filled(144, 0.1)...), halfTensor("B", []int64{4}, 1, 2, 3, 4)},
			attrs: []*onnxpb.AttributeProto{intsAttr("pads", 1, 1, 1, 1)}, out: []int64{1, 4, 8, 8}},
		{op: "Relu", out: []int64{1, 4, 8, 8}},
		{op: "PRelu", extra: []string{"S"}, inits: []*onnxpb.TensorProto{halfTensor("S", []int64{4, 1, 1}, 0.1, 0.2, 0.3, 0.4)}, out: []int64{1, 4, 8, 8}},
		{op: "Add", extra: []string{"X"}, out: []int64{1, 4, 8, 8}},
		{op: "Mul", extra: []string{"X"}, out: []int64{1, 4, 8, 8}},
		{op: "MaxPool", attrs: []*onnxpb.AttributeProto{intsAttr("kernel_shape", 2, 2), intsAttr("strides", 2, 2)}, out: []int64{1, 4, 4, 4}},
		{op: "Concat", extra: []string{"X"}, attrs: []*onnxpb.AttributeProto{intAttr("axis", 1)}, out: []int64{1, 8, 8, 8}},
		{op: "Transpose", attrs: []*onnxpb.AttributeProto{intsAttr("perm", 0, 2, 3, 1)}, out: []int64{1, 8, 8, 4}},
		{op: "Reshape", extra: []string{"shape"}, inits: []*onnxpb.TensorProto{{Name: p("shape"), Dims: []int64{2}, DataType: p(onnxfp16.TypeInt64), Int64Data: []int64{1, -1}}}, out: []int64{1, 256}},
		{op: "Sigmoid", out: []int64{1, 4, 8, 8}},
		{op: "Resize", extra: []string{"", "scales"}, inits: []*onnxpb.TensorProto{{Name: p("scales"), Dims: []int64{4}, DataType: p(onnxfp16.TypeFloat), FloatData: []float32{1, 1, 2, 2}}}, out: []int64{1, 4, 16, 16}},
	}
}

func (k kernelProbe) model() []byte {
	node := &onnxpb.NodeProto{OpType: p(k.op), Name: p("probe"), Input: append([]string{"X"}, k.extra...), Output: []string{"Y"}, Attribute: k.attrs}
	m := &onnxpb.ModelProto{IrVersion: p(int64(8)), OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: p(""), Version: p(int64(13))}},
		Graph: &onnxpb.GraphProto{Name: p("probe"), Node: []*onnxpb.NodeProto{node}, Initializer: k.inits,
			Input:  []*onnxpb.ValueInfoProto{valueInfo("X", onnxfp16.TypeFloat16, 1, 4, 8, 8)},
			Output: []*onnxpb.ValueInfoProto{valueInfo("Y", onnxfp16.TypeFloat16, k.out...)}}}
	b, err := onnxfp16.Encode(m)
	if err != nil {
		panic(err)
	}
	return b
}

// hasFP16Kernel reports whether ONNX Runtime's CPU provider runs the probe's
// op in FP16: ORT inserts Casts to FP32 around a node it has no FP16 kernel
// for, which shows in the optimized model it writes.
func hasFP16Kernel(t *testing.T, k kernelProbe) bool {
	t.Helper()
	orttest.Require(t)
	opts, err := ort.NewSessionOptions()
	require.NoError(t, err)
	defer opts.Destroy()
	path := filepath.Join(t.TempDir(), "opt.onnx")
	require.NoError(t, opts.SetOptimizedModelFilePath(path))
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(k.model(), []string{"X"}, []string{"Y"}, opts)
	require.NoError(t, err, k.op)
	require.NoError(t, s.Destroy())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	m, err := onnxfp16.Decode(b)
	require.NoError(t, err)
	for _, n := range m.GetGraph().GetNode() {
		if n.GetOpType() == "Cast" {
			return false
		}
	}
	return true
}

// TestORTFP16Kernels measures which ops ONNX Runtime's CPU provider runs in
// FP16 and checks CPUNoFP16Kernels against it, both ways: a listed op must
// lack a kernel, and an op with a kernel must not be listed.
func TestORTFP16Kernels(t *testing.T) {
	t.Parallel()
	listed := map[string]bool{}
	for _, op := range onnxfp16.CPUNoFP16Kernels() {
		listed[op] = true
	}
	seen := map[string]bool{}
	for _, k := range kernelProbes() {
		has := hasFP16Kernel(t, k)
		seen[k.op] = true
		t.Logf("%-10s FP16 kernel on CPU: %v", k.op, has)
		require.NotEqual(t, has, listed[k.op], "%s: FP16 kernel %v, but CPUNoFP16Kernels lists it: %v", k.op, has, listed[k.op])
	}
	for op := range listed {
		require.True(t, seen[op], "%s is listed but not probed", op)
	}
}

// TestCPUKeepLeavesNothingToORT converts the shipped models keeping
// CPUNoFP16Kernels in FP32 and checks that ONNX Runtime then finds an FP16
// kernel for every remaining FP16 node: its optimised graph has no more
// Casts than the converter wrote.
func TestCPUKeepLeavesNothingToORT(t *testing.T) {
	t.Parallel()
	for _, sp := range specs() {
		fp32, err := models.ONNX(sp.model, models.FP32)
		require.NoError(t, err)
		conv, rep, err := onnxfp16.Convert(fp32, onnxfp16.Options{KeepFP32: onnxfp16.CPUNoFP16Kernels()})
		require.NoError(t, err)
		require.Positive(t, rep.FP32Nodes)
		path := filepath.Join(t.TempDir(), "opt.onnx")
		newSession(t, conv, sp, path)
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		opt, err := onnxfp16.Decode(b)
		require.NoError(t, err)
		var ortCasts int
		for _, n := range opt.GetGraph().GetNode() {
			if n.GetOpType() == "Cast" {
				ortCasts++
				// ORT's InsertCastTransformer names its Casts so.
				require.NotContains(t, n.GetName(), "InsertedPrecisionFreeCast", "%s: ORT inserted a Cast", sp.model)
			}
		}
		t.Logf("%s: converter casts %d, casts after ORT optimisation %d", sp.model, rep.CastsInserted, ortCasts)
		require.LessOrEqual(t, ortCasts, rep.CastsInserted, "%s: ORT had to add Casts", sp.model)
	}
}
