package pipeline

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/worker/internal/imagedecode"
)

// benchRun runs the real pipeline on one photo and reports each stage's
// mean milliseconds next to ns/op.
func benchRun(b *testing.B, image string, o Options) {
	p := New(realEngine(b), imagedecode.DefaultLimits(), nil)
	data := photo(b, image)
	sums := map[string]float64{}
	b.ReportAllocs()
	for b.Loop() {
		out, err := p.Run(b.Context(), data, o, nil)
		require.NoError(b, err)
		t := out.Result.TimingsMS
		sums[StageDecode] += t.Decode
		sums[StageDetect] += t.Detect
		sums[StageLandmarks] += t.Landmarks
		sums[StageTexture] += t.Texture
		if t.Geometry != nil {
			sums[StageGeometry] += *t.Geometry
		}
		sums[StageEncode] += t.Encode
		out.Release()
	}
	for s, v := range sums {
		b.ReportMetric(v/float64(b.N), s+"-ms")
	}
}

func BenchmarkPipelineOneFace(b *testing.B) { benchRun(b, "kj_test1.jpg", Options{}) }

func BenchmarkPipelineOneFaceGeometry(b *testing.B) {
	benchRun(b, "kj_test1.jpg", Options{Geometry: true})
}

func BenchmarkPipelineThreeFaces(b *testing.B) { benchRun(b, "bf_Test3.jpg", Options{}) }

func BenchmarkPipelineSmallUV(b *testing.B) { benchRun(b, "kj_test1.jpg", Options{UVSize: 256}) }
