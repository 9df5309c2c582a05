package pipeline

import (
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/worker/internal/imagedecode"
)

// benchRun runs the real pipeline on one photo and reports each stage's
// mean milliseconds next to ns/op, and the process's CPU time per run
// (cpu-ms: user+system, all threads, ONNX Runtime's included), which a
// loaded machine inflates far less than wall time.
func benchRun(b *testing.B, image string, o Options) {
	p := New(realEngine(b), imagedecode.DefaultLimits(), nil)
	data := photo(b, image)
	sums := map[string]float64{}
	b.ReportAllocs()
	c0 := cpuTime(b)
	for b.Loop() {
		out, err := p.Run(b.Context(), data, o, nil)
		require.NoError(b, err)
		for stage, ms := range out.Result.TimingsMS.Stages() {
			sums[stage] += ms
		}
		out.Release()
	}
	b.ReportMetric(float64((cpuTime(b)-c0).Microseconds())/1000/float64(b.N), "cpu-ms")
	for s, v := range sums {
		b.ReportMetric(v/float64(b.N), s+"-ms")
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	require.NoError(tb, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkPipelineOneFace(b *testing.B) { benchRun(b, "kj_test1.jpg", Options{}) }

func BenchmarkPipelineOneFaceGeometry(b *testing.B) {
	benchRun(b, "kj_test1.jpg", Options{Geometry: true})
}

func BenchmarkPipelineThreeFaces(b *testing.B) { benchRun(b, "bf_Test3.jpg", Options{}) }

func BenchmarkPipelineSmallUV(b *testing.B) { benchRun(b, "kj_test1.jpg", Options{UVSize: 256}) }
