package queue_test

import (
	"testing"

	"github.com/facefleet/facefleet/shared/testkit"
)

// TestMain fails the package when a test leaves a goroutine running (the fetchers, consumers and NATS connections
// these tests start).
func TestMain(m *testing.M) { testkit.VerifyNoLeaks(m) }
