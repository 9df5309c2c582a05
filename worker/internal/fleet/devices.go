package fleet

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Device is one inference device a Worker is pinned to.
type Device struct {
	// CUDA is false for the CPU.
	CUDA bool
	// Index is the CUDA device ordinal as the process sees it (after
	// CUDA_VISIBLE_DEVICES renumbering); 0 for the CPU.
	Index int
}

// String returns "cpu" or "cuda:N", the form ParseDevices accepts.
func (d Device) String() string {
	if !d.CUDA {
		return "cpu"
	}
	return "cuda:" + strconv.Itoa(d.Index)
}

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
// "cuda:N" (also "cuda" = cuda:0), or "all" (every visible CUDA device, or
// the CPU when none is visible). Duplicates are an error.
func ParseDevices(spec string, cuda CUDADiscovery) ([]Device, error) {
	spec = strings.TrimSpace(strings.ToLower(spec))
	switch spec {
	case "", "cpu":
		return []Device{Device{}}, nil
	case "all":
		vis := cuda.Visible()
		if len(vis) == 0 {
			return []Device{Device{}}, nil
		}
		out := make([]Device, len(vis))
		for i, n := range vis {
			out[i] = Device{CUDA: true, Index: n}
		}
		return out, nil
	}
	var out []Device
	seen := map[Device]bool{}
	for _, f := range strings.Split(spec, ",") {
		f = strings.TrimSpace(f)
		var d Device
		switch {
		case f == "cpu":
			d = Device{}
		case f == "cuda" || f == "gpu":
			d = Device{CUDA: true}
		case strings.HasPrefix(f, "cuda:"):
			n, err := strconv.Atoi(strings.TrimPrefix(f, "cuda:"))
			if err != nil || n < 0 || n > 1024 {
				return nil, fmt.Errorf("%w: device %q: want cuda:N with N ≥ 0", ErrInvalidConfig, f)
			}
			d = Device{CUDA: true, Index: n}
		default:
			return nil, fmt.Errorf("%w: device %q: want cpu, cuda:N or all", ErrInvalidConfig, f)
		}
		if seen[d] {
			return nil, fmt.Errorf("%w: device %q listed twice", ErrInvalidConfig, f)
		}
		seen[d] = true
		out = append(out, d)
	}
	return out, nil
}
