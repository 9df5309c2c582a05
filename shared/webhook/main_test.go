package webhook_test

import (
	"testing"

	"github.com/facefleet/facefleet/shared/testkit"
)

// TestMain fails the package when a test leaves a goroutine running (the dispatchers, outboxes and HTTP servers
// these tests start).
func TestMain(m *testing.M) { testkit.VerifyNoLeaks(m) }
