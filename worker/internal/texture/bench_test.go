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

// BenchmarkUnwrap1024 unwraps the real-photo fixture into a 1024² texture,
// on one goroutine and on GOMAXPROCS (what Unwrap picks).
func BenchmarkUnwrap1024(b *testing.B) {
	m := models.Canonical()
	img, lm := kjTest2(b)
	for _, w := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			_, _, err := texture.UnwrapWorkers(img, lm, m, texture.Options{Size: 1024}, w) // warm the layout cache
			require.NoError(b, err)
			b.ReportAllocs()
			for b.Loop() {
				_, _, err := texture.UnwrapWorkers(img, lm, m, texture.Options{Size: 1024}, w)
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("turned60", func(b *testing.B) {
		lm := project(m, 60, 20, 255, 250)
		img := gradient(510, 510)
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := texture.Unwrap(img, lm, m, texture.Options{Size: 1024}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLayout measures building the texel → triangle map of one size
// (what the per-size cache saves on every call).
func BenchmarkLayout1024(b *testing.B) {
	img, lm := kjTest2(b)
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
	img, lm := kjTest2(b)
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
