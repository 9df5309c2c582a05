// Package toolcheck decides what a test does when an external tool it needs
// (ONNX Runtime, helm, node, redis-server) is missing: skip on a developer
// machine, fail in CI. CI (.ci/run) sets FACEFLEET_REQUIRE_TOOLS=1 so that a
// missing install step can never turn into silently skipped tests.
package toolcheck

import (
	"fmt"
	"os"
)

// EnvRequire is the environment variable that turns skips into failures.
const EnvRequire = "FACEFLEET_REQUIRE_TOOLS"

// TB is the part of testing.TB used here.
type TB interface {
	Helper()
	Skip(args ...any)
	Fatal(args ...any)
}

// Required reports whether missing tools must fail tests.
func Required() bool { return os.Getenv(EnvRequire) != "" }

// Missing skips the test with the message, or fails it when tools are
// required.
func Missing(t TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatal(msg + " (" + EnvRequire + " is set)")
		return // a TB whose Fatal returns (a recorder) must not also see Skip
	}
	t.Skip(msg)
}
