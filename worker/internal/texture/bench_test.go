package texture_test

import (
	"bytes"
	"fmt"
	"image/png"
	"io"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/worker/internal/texture"
)

// loopCPU runs fn b.N times and reports CPU ms per run beside the wall
// time (the CPU figure is steadier on a shared machine).
func loopCPU(b *testing.B, fn func() error) {
	b.Helper()
	b.ReportAllocs()
	c0 := texture.CPUTime(b)
	for b.Loop() {
		if err := fn(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(texture.CPUTime(b)-c0)/1e6/float64(b.N), "cpu-ms/op")
}

// BenchmarkUnwrap1024 unwraps real photos with the engine's landmarks into
// a 1024² texture, on one goroutine and on GOMAXPROCS (what Unwrap picks):
// the frontal one (little mirror fill, the folds) and the turned one (a
// quarter mirror-filled, blends and feather); and a synthetic head turned
// 60°.
func BenchmarkUnwrap1024(b *testing.B) {
	m := models.Canonical()
	for _, name := range []string{texture.Frontal, texture.Turned} {
		img, lm := texture.Fixture(b, name)
		for _, w := range []int{1, runtime.GOMAXPROCS(0)} {
			b.Run(fmt.Sprintf("%s/workers=%d", name, w), func(b *testing.B) {
				_, _, err := texture.UnwrapWorkers(img, lm, m, texture.Options{Size: 1024}, w) // warm the layout cache
				require.NoError(b, err)
				loopCPU(b, func() error {
					_, _, err := texture.UnwrapWorkers(img, lm, m, texture.Options{Size: 1024}, w)
					return err
				})
			})
		}
	}
	b.Run("turned60", func(b *testing.B) {
		lm := project(m, 60, 20, 255, 250)
		img := gradient(510, 510)
		loopCPU(b, func() error {
			_, _, err := texture.Unwrap(img, lm, m, texture.Options{Size: 1024})
			return err
		})
	})
}

// BenchmarkLayout measures building the texel → triangle map of one size
// (what the per-size cache saves on every call).
func BenchmarkLayout1024(b *testing.B) {
	img, lm := texture.Fixture(b, texture.Frontal)
	for b.Loop() {
		m := *models.Canonical() // a fresh mesh pointer misses the cache
		if _, _, err := texture.Unwrap(img, lm, &m, texture.Options{Size: 1024}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodePNG1024 encodes the real-photo 1024² texture with the
// standard library (default and BestSpeed) and with EncodePNG (one band =
// serial, and the default band count).
func BenchmarkEncodePNG1024(b *testing.B) {
	img, lm := texture.Fixture(b, texture.Frontal)
	tex, _, err := texture.Unwrap(img, lm, models.Canonical(), texture.Options{Size: 1024})
	require.NoError(b, err)
	run := func(name string, enc func(io.Writer) error) {
		b.Run(name, func(b *testing.B) {
			var buf bytes.Buffer
			b.SetBytes(int64(len(tex.Pix)))
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				if err := enc(&buf); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len()), "png-bytes")
		})
	}
	run("stdlib-default", func(w io.Writer) error { return png.Encode(w, tex) })
	run("stdlib-bestspeed", func(w io.Writer) error {
		return (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(w, tex)
	})
	run("fast-1band", func(w io.Writer) error { return texture.EncodePNGBands(w, tex, 1) })
	run("fast", func(w io.Writer) error { return texture.EncodePNG(w, tex) })
}

// BenchmarkUnwrapSizes unwraps the frontal photo into 512², 2048² and
// 4096² textures on one goroutine (BenchmarkUnwrap1024 has 1024²).
func BenchmarkUnwrapSizes(b *testing.B) {
	m := models.Canonical()
	img, lm := texture.Fixture(b, texture.Frontal)
	for _, size := range []int{512, 2048, 4096} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			o := texture.Options{Size: size, Workers: 1}
			_, _, err := texture.Unwrap(img, lm, m, o) // warm the layout cache
			require.NoError(b, err)
			loopCPU(b, func() error {
				_, _, err := texture.Unwrap(img, lm, m, o)
				return err
			})
		})
	}
}
