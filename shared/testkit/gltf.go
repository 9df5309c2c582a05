package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/facefleet/facefleet/shared/toolcheck"
)

// GLTFReport is the part of the Khronos glTF-Validator's report the tests
// read.
type GLTFReport struct {
	Issues struct {
		NumErrors   int `json:"numErrors"`
		NumWarnings int `json:"numWarnings"`
		NumInfos    int `json:"numInfos"`
		NumHints    int `json:"numHints"`
		Messages    []struct {
			Code     string `json:"code"`
			Message  string `json:"message"`
			Severity int    `json:"severity"`
			Pointer  string `json:"pointer"`
		} `json:"messages"`
	} `json:"issues"`
	Info struct {
		Version   string `json:"version"`
		Generator string `json:"generator"`
	} `json:"info"`
}

// ValidateGLTF runs the real Khronos glTF-Validator (npm gltf-validator,
// under $FACEFLEET_GLTF_VALIDATOR or <module>/.cache/node/node_modules/
// gltf-validator, driven by worker/internal/geometry/testdata/gltf_validate.cjs)
// on file and returns its report and raw output. A missing Node.js or
// validator skips the test, or fails it under FACEFLEET_REQUIRE_TOOLS.
func ValidateGLTF(t testing.TB, ctx context.Context, file string) (GLTFReport, []byte) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		toolcheck.Missing(t, "node not on PATH; install Node.js to run the Khronos glTF validator")
	}
	root := ModuleRoot(t)
	dir := os.Getenv("FACEFLEET_GLTF_VALIDATOR")
	if dir == "" {
		dir = filepath.Join(root, ".cache", "node", "node_modules", "gltf-validator")
	}
	if _, err := os.Stat(filepath.Join(dir, "package.json")); err != nil {
		toolcheck.Missing(t, "gltf-validator not installed at %s; run: make setup", dir)
	}
	cmd := exec.CommandContext(ctx, node, filepath.Join(root, "worker", "internal", "geometry", "testdata", "gltf_validate.cjs"), dir, file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("glTF validator: %v: %s", err, stderr.String())
	}
	var rep GLTFReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("glTF validator report: %v: %s", err, out)
	}
	return rep, out
}
