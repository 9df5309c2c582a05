package texture

import (
	"fmt"
	"image"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/models/facemesh"
)

// BenchmarkStages times each stage of a 1024² unwrap of the real photos on
// one goroutine, each on its own: the per-photo frame (triangle affines and
// the visibility z-buffer), classify, the feather's distance grid, paint
// and the gutter; and the reference path's two passes (shadeRef,
// featherRef) for comparison. (Each reruns on the same texture: the work
// per run stays the same.)
func BenchmarkStages(b *testing.B) {
	m := models.Canonical()
	lay, err := layoutFor(m, 1024)
	require.NoError(b, err)
	for _, name := range []string{Frontal, Turned} {
		img, lm := Fixture(b, name)
		out, st, err := unwrap(img, lm, m, Options{Size: 1024}, 1)
		require.NoError(b, err)
		b.Run(name+"/frame", func(b *testing.B) {
			b.ReportAllocs()
			cpuLoop(b, func() { newFrame(img, lm, lay, defaultSeam()) })
		})
		f := newFrame(img, lm, lay, defaultSeam())
		tex := image.NewNRGBA(out.Rect)
		f.codes = make([]uint8, f.codeLen)
		f.classify(lay.spans)
		codes := append([]uint8(nil), f.codes...)
		feather := f.featherGrid()
		holes := append([]uint16(nil), f.holes...)
		if st.Coverage == 1 {
			holes = nil
		}
		b.Run(name+"/classify", func(b *testing.B) {
			f := newFrame(img, lm, lay, defaultSeam())
			f.codes = make([]uint8, f.codeLen)
			cpuLoop(b, func() {
				clear(f.holes)
				f.classify(lay.spans)
			})
		})
		b.Run(name+"/feather-grid", func(b *testing.B) {
			cpuLoop(b, func() {
				f.featherGrid()
			})
		})
		b.Run(name+"/paint", func(b *testing.B) {
			cpuLoop(b, func() {
				copy(f.codes, codes)
				f.paint(tex, lay.spans, feather)
			})
		})
		b.Run(name+"/gutter", func(b *testing.B) {
			cpuLoop(b, func() {
				gutter(out, lay, holes)
			})
		})
		b.Run(name+"/ref-shade", func(b *testing.B) {
			cpuLoop(b, func() {
				clear(tex.Pix)
				f.shadeRef(tex, lay.spans)
			})
		})
		b.Run(name+"/ref-feather", func(b *testing.B) {
			if !feather {
				b.Skip("no mirror fill")
			}
			clear(tex.Pix)
			f.shadeRef(tex, lay.spans)
			cpuLoop(b, func() {
				f.featherRef(tex, lay.spans)
			})
		})
	}
}

// BenchmarkUnwrapPaths compares the reference path (unwrapRef) with
// Unwrap's on the real photos at 1024², on one goroutine and on
// GOMAXPROCS. Run it with -count N: the paths then alternate, so a loaded
// machine slows both alike.
func BenchmarkUnwrapPaths(b *testing.B) {
	m := models.Canonical()
	for _, name := range []string{Frontal, Turned} {
		img, lm := Fixture(b, name)
		for _, w := range []int{1, runtime.GOMAXPROCS(0)} {
			for _, path := range []string{"ref", "fast"} {
				run := unwrap
				if path == "ref" {
					run = func(img *image.NRGBA, lm [][3]float32, m *facemesh.Mesh, o Options, w int) (*image.NRGBA, Stats, error) {
						return unwrapRef(img, lm, m, o, w, defaultSeam())
					}
				}
				b.Run(fmt.Sprintf("%s/workers=%d/%s", name, w, path), func(b *testing.B) {
					_, _, err := run(img, lm, m, Options{Size: 1024}, w) // warm the layout cache
					require.NoError(b, err)
					b.ReportAllocs()
					c0 := cpuNow(b)
					for b.Loop() {
						if _, _, err := run(img, lm, m, Options{Size: 1024}, w); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(cpuNow(b)-c0)/1e6/float64(b.N), "cpu-ms/op")
				})
			}
		}
	}
}

// BenchmarkUnwrapAlternate runs the reference path and Unwrap's in turn in
// every iteration on one goroutine locked to its thread, and reports each
// one's thread CPU milliseconds per run and their ratio: measured in one
// run, interleaved, so a loaded machine slows both alike.
func BenchmarkUnwrapAlternate(b *testing.B) {
	m := models.Canonical()
	for _, name := range []string{Frontal, Turned} {
		img, lm := Fixture(b, name)
		b.Run(name, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			o := Options{Size: 1024, Workers: 1}
			var ref, fast time.Duration
			for b.Loop() {
				t0 := threadCPU(b)
				if _, _, err := unwrapRef(img, lm, m, o, 1, defaultSeam()); err != nil {
					b.Fatal(err)
				}
				t1 := threadCPU(b)
				if _, _, err := Unwrap(img, lm, m, o); err != nil {
					b.Fatal(err)
				}
				ref, fast = ref+t1-t0, fast+threadCPU(b)-t1
			}
			n := float64(b.N)
			b.ReportMetric(float64(ref)/1e6/n, "ref-cpu-ms")
			b.ReportMetric(float64(fast)/1e6/n, "fast-cpu-ms")
			b.ReportMetric(float64(ref)/float64(fast), "ref/fast")
		})
	}
}

// cpuLoop runs fn b.N times on one goroutine locked to its thread and
// reports the thread's CPU milliseconds per run beside the wall time (the
// CPU figure is far steadier on a shared machine).
func cpuLoop(b *testing.B, fn func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0 := threadCPU(b)
	for b.Loop() {
		fn()
	}
	b.ReportMetric(float64(threadCPU(b)-c0)/1e6/float64(b.N), "cpu-ms/op")
}

// threadCPU is the calling thread's user + system CPU time.
func threadCPU(tb testing.TB) time.Duration {
	const rusageThread = 1 // RUSAGE_THREAD (Linux)
	var ru syscall.Rusage
	require.NoError(tb, syscall.Getrusage(rusageThread, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
