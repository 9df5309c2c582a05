package pipeline

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/worker/internal/engine"
	"github.com/facefleet/facefleet/worker/internal/texture"
)

// TestOptionsAreTheJobs: the pipeline takes the job message's options, bounds
// and defaults (job owns them); the stages it drives agree with them.
func TestOptionsAreTheJobs(t *testing.T) {
	t.Parallel()
	require.Equal(t, job.MinUVSize, texture.MinSize)
	require.Equal(t, job.MaxUVSize, texture.MaxSize)
	require.Equal(t, job.DetectorShort, engine.DetectorShort)
	require.Equal(t, job.DetectorFull, engine.DetectorFull)

	o := job.Options{Geometry: true, Head: true, UVSize: 512, Detector: "full", MaxFaces: 3,
		Webhook: &job.Webhook{URL: "https://hooks.example.com/x"}}
	require.Equal(t, Options{Geometry: true, Head: true, UVSize: 512, Detector: "full", MaxFaces: 3}, FromJob(o))
	require.Equal(t, Options{Geometry: true, Head: true, UVSize: 1024, Detector: "short", MaxFaces: 16},
		Options{Head: true}.WithDefaults(), "head implies geometry")
	for _, bad := range []Options{{UVSize: 255}, {UVSize: 4097}, {Detector: "mid"}, {MaxFaces: 17}, {MaxFaces: -1}} {
		perr := bad.Validate()
		require.ErrorIs(t, perr, ErrInvalidOptions, "%+v", bad)
		require.Error(t, bad.job().WithDefaults().Validate(), "%+v: the job refuses it too", bad)
	}
	err := Options{UVSize: 100}.Validate()
	require.ErrorContains(t, err, "uv_size: must be 256..4096, got 100")
}
