package engine

import (
	"fmt"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/shared/device"
)

// CPUAutoPrecision is what precision "auto" means on the CPU: the faster of
// the two by bare model throughput, as measured by `worker bench` (both
// precisions in one process, passes interleaved, median pass) on the three
// photos in worker/testdata/images (5 faces per pass: detector run + one
// landmark run per face), ORT 1.30 CPU provider, AMD EPYC with AVX-512F but
// no AVX512-FP16, 2 cores shared with other jobs (load average 15–23):
//
//	run                      fp32 img/s   fp16 img/s
//	n=7, default threads         45.3         42.1
//	n=9, default threads         59.8         65.1
//	n=9, 1 thread                46.1         44.7
//	n=5, default threads         89.3         69.1
//	mean ms per run (3 runs)  detect 4.7–5.0, landmark 6.6–11.1 (fp32)
//	                          detect 5.2–6.2, landmark 7.0–9.0  (fp16)
//
// The two are close and this shared machine is noisy, but FP32 was ahead in
// three runs of four; x86 without AVX512-FP16 has no native FP16 arithmetic
// for ORT's CPU kernels to gain from, and FP32 is the exact reference the
// FP16 files were converted from. So auto = FP32 on the CPU. Re-measure with
// `worker bench` on the production CPU and change this constant if FP16 wins
// there by more than the pass-to-pass spread.
const CPUAutoPrecision = models.FP32

// ResolvePrecision maps a precision setting (device.ParsePrecision: "auto",
// "fp16", "fp32"; case-insensitive, "" = auto) to the model precision for
// device d: auto is FP16 on GPUs and CPUAutoPrecision on the CPU. Anything
// else wraps ErrInvalidOptions.
func ResolvePrecision(setting string, d Device) (models.Precision, error) {
	p, err := device.ParsePrecision(setting)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	switch p {
	case device.PrecisionFP16:
		return models.FP16, nil
	case device.PrecisionFP32:
		return models.FP32, nil
	}
	if d.Kind == KindCPU || d.Kind == "" {
		return CPUAutoPrecision, nil
	}
	return models.FP16, nil
}
