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
	require.Equal(t, queue.DefaultAckWait, w.AckWait)
	require.Equal(t, queue.DefaultMaxDeliver, w.MaxDeliver)
	require.Equal(t, queue.DefaultMaxAckPending, w.MaxAckPending)
	require.EqualValues(t, job.DefaultMaxImageBytes, w.MaxImageBytes)
	// What an empty queue.Config gets is what config provisions by default.
	require.Equal(t, queue.Config{}.WithDefaults(), w.QueueConfig().WithDefaults())

	p, err := LoadProducer(nil, envMap(nil))
	require.NoError(t, err)
	require.Equal(t, queue.DefaultAckWait, p.AckWait)
	require.Equal(t, queue.DefaultMaxDeliver, p.MaxDeliver)
	require.Equal(t, queue.DefaultMaxAckPending, p.MaxAckPending)
	require.EqualValues(t, job.DefaultMaxImageBytes, p.MaxUploadBytes)
}
