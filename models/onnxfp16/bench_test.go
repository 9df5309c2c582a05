package onnxfp16_test

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	ort "github.com/yalue/onnxruntime_go"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/models/onnxfp16"
)

// BenchmarkORT measures CPU latency (one intra-op thread) of each model as
// shipped FP32, as shipped FP16, and FP16 with the CPU provider's missing
// FP16 kernels kept in FP32 in the file (CPUNoFP16Kernels), at batch 1 and
// (converted models only: the FP32 files pin batch 1) batch 3.
//
//	go test ./models/onnxfp16 -run '^$' -bench ORT -benchtime 50x
func BenchmarkORT(b *testing.B) {
	for _, sp := range specs() {
		fp32, err := models.ONNX(sp.model, models.FP32)
		require.NoError(b, err)
		fp16, err := models.ONNX(sp.model, models.FP16)
		require.NoError(b, err)
		cpu, _, err := onnxfp16.Convert(fp32, onnxfp16.Options{KeepFP32: onnxfp16.CPUNoFP16Kernels()})
		require.NoError(b, err)
		var data []float32
		for _, p := range photos {
			data = append(data, loadCrop(b, p, sp.size, sp.nchw, sp.lo, sp.hi)...)
		}
		for _, v := range []struct {
			name string
			onnx []byte
		}{{"fp32", fp32}, {"fp16", fp16}, {"fp16-cpukeep", cpu}} {
			for _, batch := range []int{1, 3} {
				if batch > 1 && v.name == "fp32" {
					continue
				}
				b.Run(string(sp.model)+"/"+v.name+"/batch"+strconv.Itoa(batch), func(b *testing.B) {
					s := newSession(b, v.onnx, sp, "")
					shape := ort.NewShape(int64(batch), int64(sp.size), int64(sp.size), 3)
					if sp.nchw {
						shape = ort.NewShape(int64(batch), 3, int64(sp.size), int64(sp.size))
					}
					in, err := ort.NewTensor(shape, data[:len(data)/len(photos)*batch])
					require.NoError(b, err)
					defer in.Destroy()
					outs := make([]ort.Value, len(sp.outputs))
					require.NoError(b, s.s.Run([]ort.Value{in}, outs)) // warm up, allocates outputs
					// The machine is shared: besides the mean, report the minimum
					// and median call, per item.
					var calls []time.Duration
					b.ResetTimer()
					for b.Loop() {
						t0 := time.Now()
						if err := s.s.Run([]ort.Value{in}, outs); err != nil {
							b.Fatal(err)
						}
						calls = append(calls, time.Since(t0))
					}
					slices.Sort(calls)
					perItem := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(batch) }
					b.ReportMetric(perItem(calls[0]), "min-ms/item")
					b.ReportMetric(perItem(calls[len(calls)/2]), "p50-ms/item")
					for _, o := range outs {
						_ = o.Destroy()
					}
				})
			}
		}
	}
}
