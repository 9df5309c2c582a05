package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/facefleet/facefleet/models"
)

// DefaultLibraryPath is where the ONNX Runtime shared library is looked up
// when neither Config.LibraryPath nor $FACEFLEET_ORT_LIB is set (relative to
// the working directory; `make setup` installs it there).
const DefaultLibraryPath = ".cache/ort/libonnxruntime.so.1"

// LibraryEnv names the environment variable that points at the ONNX Runtime
// shared library.
const LibraryEnv = "FACEFLEET_ORT_LIB"

// ortRuntime is the process-wide ONNX Runtime environment. ORT allows one
// environment per process and binds it to one shared library, so this is the
// package's only shared state: it is initialised lazily by the first
// successful New and kept for the life of the process (engines come and go,
// the environment stays). A failed initialisation can be retried.
var ortRuntime struct {
	mu   sync.Mutex
	path string // library the environment was created with; "" = not yet
}

// ResolveLibraryPath returns the library path New would use for configured:
// configured itself when set, else $FACEFLEET_ORT_LIB, else DefaultLibraryPath.
func ResolveLibraryPath(configured string) string {
	if configured != "" {
		return configured
	}
	if p := os.Getenv(LibraryEnv); p != "" {
		return p
	}
	return DefaultLibraryPath
}

// FindLibrary returns $FACEFLEET_ORT_LIB when it is set, else the first
// DefaultLibraryPath that exists in dir or a directory above it (the module
// root's after `make setup`), else "". Tests and tools use it to find the
// library without a configured path.
func FindLibrary(dir string) string {
	if p := os.Getenv(LibraryEnv); p != "" {
		return p
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	for {
		p := filepath.Join(dir, DefaultLibraryPath)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// initRuntime initialises the ORT environment with the library at path, or
// checks that the environment already running uses the same library.
func initRuntime(path string) error {
	ortRuntime.mu.Lock()
	defer ortRuntime.mu.Unlock()
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("%w: library %s: %w (run `make setup` or set %s)",
			ErrRuntimeUnavailable, abs, err, LibraryEnv)
	}
	if ortRuntime.path != "" {
		if ortRuntime.path != abs {
			return fmt.Errorf("%w: environment already uses %s, cannot switch to %s",
				ErrRuntimeUnavailable, ortRuntime.path, abs)
		}
		return nil
	}
	if ort.IsInitialized() {
		// Someone else in this process initialised ORT directly; use it.
		ortRuntime.path = abs
		return nil
	}
	ort.SetSharedLibraryPath(abs)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrRuntimeUnavailable, abs, err)
	}
	ortRuntime.path = abs
	return nil
}

// RuntimeVersion reports the ONNX Runtime version of the initialised
// environment, or "" before the first successful New.
func RuntimeVersion() string {
	ortRuntime.mu.Lock()
	defer ortRuntime.mu.Unlock()
	if ortRuntime.path == "" {
		return ""
	}
	return ort.GetVersion()
}

// ProviderOptions returns the execution-provider options New passes to ONNX
// Runtime for device d at precision p: nil for the CPU, the CUDA provider's
// options for "cuda", and the TensorRT provider's options for "tensorrt"
// (whose sessions also get the CUDA provider, with ProviderOptions of the
// same device id, as a fallback for nodes TensorRT does not take).
// trtCacheDir, when set, enables TensorRT's engine cache there.
func ProviderOptions(d Device, p models.Precision, trtCacheDir string) map[string]string {
	id := strconv.Itoa(d.ID)
	switch d.Kind {
	case KindCUDA:
		return map[string]string{
			"device_id": id,
			// Heuristic algorithm search: exhaustive search costs seconds per
			// new input shape, and batch sizes vary per image.
			"cudnn_conv_algo_search": "HEURISTIC",
			// Grow the arena by what is asked, not by powers of two: several
			// slots share one GPU.
			"arena_extend_strategy": "kSameAsRequested",
		}
	case KindTensorRT:
		o := map[string]string{
			"device_id":       id,
			"trt_fp16_enable": strconv.FormatBool(p == models.FP16),
		}
		if trtCacheDir != "" {
			o["trt_engine_cache_enable"] = "true"
			o["trt_engine_cache_path"] = trtCacheDir
		}
		return o
	default:
		return nil
	}
}

// newSessionOptions builds the ORT session options for cfg: thread count and
// the execution providers of cfg.Device.
func newSessionOptions(cfg Config) (*ort.SessionOptions, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("engine: session options: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			so.Destroy()
		}
	}()
	if err := so.SetIntraOpNumThreads(cfg.IntraOpThreads); err != nil {
		return nil, fmt.Errorf("engine: intra-op threads: %w", err)
	}
	if err := so.SetInterOpNumThreads(1); err != nil {
		return nil, fmt.Errorf("engine: inter-op threads: %w", err)
	}
	switch cfg.Device.Kind {
	case KindCPU:
	case KindTensorRT:
		if err := appendTensorRT(so, cfg); err != nil {
			return nil, err
		}
		if err := appendCUDA(so, Device{Kind: KindCUDA, ID: cfg.Device.ID}, cfg.Precision); err != nil {
			return nil, err
		}
	case KindCUDA:
		if err := appendCUDA(so, cfg.Device, cfg.Precision); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: %q", ErrInvalidDevice, cfg.Device.Kind)
	}
	ok = true
	return so, nil
}

func appendCUDA(so *ort.SessionOptions, d Device, p models.Precision) error {
	po, err := ort.NewCUDAProviderOptions()
	if err != nil {
		return providerErr(d, err)
	}
	defer po.Destroy()
	if err := po.Update(ProviderOptions(d, p, "")); err != nil {
		return providerErr(d, err)
	}
	if err := so.AppendExecutionProviderCUDA(po); err != nil {
		return providerErr(d, err)
	}
	return nil
}

func appendTensorRT(so *ort.SessionOptions, cfg Config) error {
	po, err := ort.NewTensorRTProviderOptions()
	if err != nil {
		return providerErr(cfg.Device, err)
	}
	defer po.Destroy()
	if err := po.Update(ProviderOptions(cfg.Device, cfg.Precision, cfg.TensorRTCacheDir)); err != nil {
		return providerErr(cfg.Device, err)
	}
	if err := so.AppendExecutionProviderTensorRT(po); err != nil {
		return providerErr(cfg.Device, err)
	}
	return nil
}

func providerErr(d Device, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrProviderUnavailable, d, err)
}
