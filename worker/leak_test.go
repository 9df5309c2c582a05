package main

import (
	"testing"

	"github.com/facefleet/facefleet/shared/testkit"
)

// TestMain fails the package when a test leaves a goroutine running (the
// fleets, health servers and dispatchers `worker run` starts in-process).
func TestMain(m *testing.M) { testkit.VerifyNoLeaks(m) }
