package status_test

import (
	"testing"

	"github.com/facefleet/facefleet/shared/testkit"
)

// TestMain fails the package when a test leaves a goroutine running (the watchers, Redis clients and server processes
// these tests start).
func TestMain(m *testing.M) { testkit.VerifyNoLeaks(m) }
