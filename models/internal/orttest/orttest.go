// Package orttest initialises ONNX Runtime for the model-pack tests
// (models/onnxfp16, models/tflite), which run converted graphs to check
// them. It is a test helper, not a runtime dependency.
package orttest

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	ort "github.com/yalue/onnxruntime_go"

	"github.com/facefleet/facefleet/shared/toolcheck"
)

// Env overrides the library path.
const Env = "FACEFLEET_ORT_LIB"

// installed is where .ci/install-ort.sh puts the library, relative to the
// repository root.
var installed = filepath.Join(".cache", "ort", "libonnxruntime.so.1")

// errMissing: no library found.
var errMissing = errors.New("ONNX Runtime library not installed (run make setup, or set " + Env + ")")

// library is $FACEFLEET_ORT_LIB, else the installed library in the nearest
// directory above the working directory that has one.
func library() (string, error) {
	if lib := os.Getenv(Env); lib != "" {
		return lib, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, installed)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errMissing
		}
		dir = parent
	}
}

// ONNX Runtime's environment is process-global: initialise it once.
var initialise = sync.OnceValue(func() error {
	lib, err := library()
	if err != nil {
		return err
	}
	if _, err := os.Stat(lib); err != nil {
		return errors.Join(errMissing, err)
	}
	ort.SetSharedLibraryPath(lib)
	return ort.InitializeEnvironment()
})

// Require initialises ONNX Runtime, skipping the test when the library is
// not installed (failing it where tools are required: shared/toolcheck).
func Require(tb testing.TB) {
	tb.Helper()
	if err := initialise(); err != nil {
		if errors.Is(err, errMissing) {
			toolcheck.Missing(tb, "%v", err)
			return
		}
		require.NoError(tb, err)
	}
}
