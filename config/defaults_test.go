package config

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/queue"
)

// TestDefaultsAreTheOwners keeps config's documented defaults (struct tags,
// docs/ARCHITECTURE.md) equal to the constants of the packages that own the
// rules: the queue's consumer defaults and the job's image bound.
func TestDefaultsAreTheOwners(t *testing.T) {
	t.Parallel()
	w, err := LoadWorker(nil, envMap(nil))
	require.NoError(t, err)
	p, err := LoadProducer(nil, envMap(nil))
	require.NoError(t, err)
	for name, n := range map[string]NATS{"worker": w.NATS, "producer": p.NATS} {
		require.Equal(t, queue.DefaultAckWait, n.AckWait, name)
		require.Equal(t, queue.DefaultMaxDeliver, n.MaxDeliver, name)
		require.Equal(t, queue.DefaultMaxAckPending, n.MaxAckPending, name)
		// What an empty queue.Config gets is what config provisions by default.
		require.Equal(t, queue.Config{}.WithDefaults(), n.QueueConfig().WithDefaults(), name)
	}
	require.EqualValues(t, job.DefaultMaxImageBytes, w.MaxImageBytes)
	require.EqualValues(t, job.DefaultMaxImageBytes, p.MaxUploadBytes)
}
