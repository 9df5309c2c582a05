package pipeline

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/worker/internal/engine"
	"github.com/facefleet/facefleet/worker/internal/imageenc"
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

	o := job.Options{Geometry: true, Head: true, UVSize: 512, UVFormat: "jpeg", Detector: "full", MaxFaces: 3,
		Webhook: &job.Webhook{URL: "https://hooks.example.com/x"}}
	require.Equal(t, Options{Geometry: true, Head: true, UVSize: 512, UVFormat: "jpeg", Detector: "full", MaxFaces: 3}, FromJob(o))
	require.Equal(t, Options{Geometry: true, Head: true, UVSize: 1024, UVFormat: "png", Detector: "short", MaxFaces: 16},
		Options{Head: true}.WithDefaults(), "head implies geometry")
	for _, bad := range []Options{{UVSize: 255}, {UVSize: 4097}, {Detector: "mid"}, {UVFormat: "gif"}, {MaxFaces: 17}, {MaxFaces: -1}} {
		perr := bad.Validate()
		require.ErrorIs(t, perr, ErrInvalidOptions, "%+v", bad)
		require.Error(t, bad.job().WithDefaults().Validate(), "%+v: the job refuses it too", bad)
	}
	err := Options{UVSize: 100}.Validate()
	require.ErrorContains(t, err, "uv_size: must be 256..4096, got 100")
	var oe *OptionError
	require.ErrorAs(t, Options{UVFormat: "JPEG"}.Validate(), &oe)
	require.Equal(t, "invalid_options", oe.Code())
	require.Equal(t, []string{`uv_format: must be one of png, jpeg, webp, got "JPEG"`}, oe.Problems)
	for _, f := range job.UVFormats() {
		if imageenc.Supported(f) {
			require.NoError(t, Options{UVFormat: f}.Validate(), f)
		} else { // WebP in a build without cgo: refused as invalid, never attempted
			require.ErrorIs(t, Options{UVFormat: f}.Validate(), ErrInvalidOptions, f)
		}
	}
}
