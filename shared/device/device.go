// Package device owns the syntax of facefleet's inference devices: one
// device ("cpu", "cuda:N", "tensorrt:N") and a worker's device list
// ("cpu", "all", "cuda:0,cuda:1"). config validates FACEFLEET_DEVICES with
// it, the worker's fleet resolves the list with it and the engine
// (worker/internal/engine) runs on its Device; it imports nothing of theirs.
package device

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalid reports a device or device list that does not parse.
var ErrInvalid = errors.New("engine: invalid device")

// Device kinds.
const (
	KindCPU      = "cpu"
	KindCUDA     = "cuda"
	KindTensorRT = "tensorrt"
)

// All is the device-list value that means every visible CUDA device (or
// the CPU when none is visible).
const All = "all"

// Device names an execution device: the CPU, or a GPU by ordinal through the
// CUDA or TensorRT execution provider.
type Device struct {
	Kind string // "cpu" | "cuda" | "tensorrt"
	ID   int    // GPU ordinal; 0 for the CPU
}

// String formats d the way Parse reads it: "cpu", "cuda:0".
func (d Device) String() string {
	if d.Kind == KindCPU || d.Kind == "" {
		return KindCPU
	}
	return d.Kind + ":" + strconv.Itoa(d.ID)
}

// Parse parses "cpu", "cuda", "cuda:N", "tensorrt" or "tensorrt:N"
// (case-insensitive; a missing ordinal means 0). Errors wrap ErrInvalid.
func Parse(s string) (Device, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	kind, idStr, hasID := strings.Cut(t, ":")
	switch kind {
	case KindCPU:
		if hasID && idStr != "0" {
			return Device{}, fmt.Errorf("%w: %q (cpu takes no ordinal)", ErrInvalid, s)
		}
		return Device{Kind: KindCPU}, nil
	case KindCUDA, KindTensorRT:
		id := 0
		if hasID {
			n, err := strconv.Atoi(idStr)
			if err != nil || n < 0 || idStr == "" || idStr[0] == '+' {
				return Device{}, fmt.Errorf("%w: %q (ordinal must be a non-negative integer)", ErrInvalid, s)
			}
			id = n
		}
		return Device{Kind: kind, ID: id}, nil
	default:
		return Device{}, fmt.Errorf("%w: %q (want cpu, cuda:N or tensorrt:N)", ErrInvalid, s)
	}
}

// ParseList parses a worker's device list: "cpu" (or ""), a comma-separated
// list of devices ("cuda:0,cuda:1"; "cuda" means cuda:0), or "all" (every
// ordinal visible returns, on provider; the CPU when there is none). GPUs
// run on provider, "cuda" or "tensorrt" ("" means cuda). A device listed
// twice is an error. Errors wrap ErrInvalid.
func ParseList(spec, provider string, visible func() []int) ([]Device, error) {
	switch provider {
	case "":
		provider = KindCUDA
	case KindCUDA, KindTensorRT:
	default:
		return nil, fmt.Errorf("%w: gpu provider %q: want cuda or tensorrt", ErrInvalid, provider)
	}
	cpu := []Device{{Kind: KindCPU}}
	spec = strings.TrimSpace(strings.ToLower(spec))
	switch spec {
	case "", KindCPU:
		return cpu, nil
	case All:
		var vis []int
		if visible != nil {
			vis = visible()
		}
		if len(vis) == 0 {
			return cpu, nil
		}
		out := make([]Device, len(vis))
		for i, n := range vis {
			out[i] = Device{Kind: provider, ID: n}
		}
		return out, nil
	}
	var out []Device
	seen := map[Device]bool{}
	for f := range strings.SplitSeq(spec, ",") {
		d, err := Parse(f)
		if err != nil {
			return nil, fmt.Errorf("devices %q: %w", spec, err)
		}
		if d.Kind != KindCPU {
			d.Kind = provider
		}
		if seen[d] {
			return nil, fmt.Errorf("%w: device %q listed twice", ErrInvalid, d)
		}
		seen[d] = true
		out = append(out, d)
	}
	return out, nil
}

// Precision settings (FACEFLEET_PRECISION, --precision): Auto lets the
// engine choose per device (FP16 on GPUs, the measured winner on the CPU).
const (
	PrecisionAuto = "auto"
	PrecisionFP16 = "fp16"
	PrecisionFP32 = "fp32"
)

// ParsePrecision reads a precision setting: auto, fp16 or fp32
// (case-insensitive; "" means auto). Errors wrap ErrInvalidPrecision.
func ParsePrecision(s string) (string, error) {
	switch p := strings.ToLower(strings.TrimSpace(s)); p {
	case "", PrecisionAuto:
		return PrecisionAuto, nil
	case PrecisionFP16, PrecisionFP32:
		return p, nil
	}
	return "", fmt.Errorf("%w: precision %q: want auto, fp16 or fp32", ErrInvalidPrecision, s)
}

// ErrInvalidPrecision reports a precision setting that does not parse.
var ErrInvalidPrecision = errors.New("invalid precision")
