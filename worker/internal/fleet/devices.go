package fleet

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"github.com/facefleet/facefleet/shared/device"
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

// ParseDevices parses a --devices value (device.ParseList: "cpu", a
// comma-separated list of GPUs such as "cuda:0,cuda:1" where "cuda" means
// cuda:0, or "all": every CUDA device cuda makes visible, or the CPU when
// none is). GPUs run on provider, "cuda" or "tensorrt" ("" means cuda).
// Duplicates are an error. Errors wrap ErrInvalidConfig.
func ParseDevices(spec, provider string, cuda CUDADiscovery) ([]engine.Device, error) {
	ds, err := device.ParseList(spec, provider, cuda.Visible)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return ds, nil
}
