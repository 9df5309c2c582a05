package fleet

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"github.com/facefleet/facefleet/worker/internal/engine"
)

// CUDADiscovery tells ParseDevices which CUDA devices the process can see.
type CUDADiscovery struct {
	// LookupEnv reads the environment (os.LookupEnv); nil reads nothing.
	LookupEnv func(string) (string, bool)
	// NvidiaSMIList runs `nvidia-smi -L` and returns its output; nil or an
	// error means no NVIDIA driver.
	NvidiaSMIList func() ([]byte, error)
}

// Visible returns the CUDA ordinals visible to the process: from
// CUDA_VISIBLE_DEVICES when it is set (its entries are renumbered 0..n-1, as
// CUDA does; "" or "-1" hides every device), else one per GPU line of
// nvidia-smi -L, else none.
func (c CUDADiscovery) Visible() []int {
	if c.LookupEnv != nil {
		if v, ok := c.LookupEnv("CUDA_VISIBLE_DEVICES"); ok {
			n := 0
			for _, f := range strings.Split(v, ",") {
				f = strings.TrimSpace(f)
				if f == "" || strings.HasPrefix(f, "-") {
					break // CUDA stops at the first invalid entry
				}
				n++
			}
			return ordinals(n)
		}
	}
	if c.NvidiaSMIList == nil {
		return nil
	}
	out, err := c.NvidiaSMIList()
	if err != nil {
		return nil
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if strings.HasPrefix(strings.TrimSpace(sc.Text()), "GPU ") {
			n++
		}
	}
	return ordinals(n)
}

func ordinals(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// ParseDevices parses a --devices value: "cpu", a comma-separated list of
// GPUs ("cuda:0,cuda:1"; "cuda" means cuda:0), or "all" (every visible CUDA
// device, or the CPU when none is visible). GPUs run on provider, "cuda" or
// "tensorrt" ("" means cuda). Duplicates are an error.
func ParseDevices(spec, provider string, cuda CUDADiscovery) ([]engine.Device, error) {
	switch provider {
	case "":
		provider = engine.KindCUDA
	case engine.KindCUDA, engine.KindTensorRT:
	default:
		return nil, fmt.Errorf("%w: gpu provider %q: want cuda or tensorrt", ErrInvalidConfig, provider)
	}
	cpu := []engine.Device{{Kind: engine.KindCPU}}
	spec = strings.TrimSpace(strings.ToLower(spec))
	switch spec {
	case "", engine.KindCPU:
		return cpu, nil
	case "all":
		vis := cuda.Visible()
		if len(vis) == 0 {
			return cpu, nil
		}
		out := make([]engine.Device, len(vis))
		for i, n := range vis {
			out[i] = engine.Device{Kind: provider, ID: n}
		}
		return out, nil
	}
	var out []engine.Device
	seen := map[engine.Device]bool{}
	for f := range strings.SplitSeq(spec, ",") {
		d, err := engine.ParseDevice(f)
		if err != nil {
			return nil, fmt.Errorf("%w: devices %q: %w", ErrInvalidConfig, spec, err)
		}
		if d.Kind != engine.KindCPU {
			d.Kind = provider
		}
		if seen[d] {
			return nil, fmt.Errorf("%w: device %q listed twice", ErrInvalidConfig, d)
		}
		seen[d] = true
		out = append(out, d)
	}
	return out, nil
}
