package pngenc_test

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/worker/internal/pngenc"
)

var allFilters = []pngenc.Filter{pngenc.FilterDefault, pngenc.FilterNone, pngenc.FilterSub, pngenc.FilterUp,
	pngenc.FilterAverage, pngenc.FilterPaeth, pngenc.FilterAdaptive}

// Every filter and level round-trips every pixel format exactly, with
// bands (a band's first row filters against the row above it, in the
// previous band) and sub-images.
func TestFiltersAndLevelsRoundTrip(t *testing.T) {
	t.Parallel()
	imgs := []image.Image{newNRGBA(257, 131, 1), newGray16(131, 77, 2), newGray(64, 9, 3), newNRGBA(1, 1, 4),
		newNRGBA(300, 300, 5).SubImage(image.Rect(7, 9, 210, 250))}
	for _, f := range allFilters {
		for _, level := range []int{0, 1, 2, 6, 9, -2} {
			for _, bands := range []int{1, 3} {
				e := &pngenc.Encoder{Filter: f, Level: level, Bands: bands}
				for _, img := range imgs {
					var buf bytes.Buffer
					require.NoError(t, e.Encode(&buf, img), "%s level %d", f, level)
					got, err := png.Decode(&buf)
					require.NoError(t, err)
					want := img
					if s, ok := img.(*image.NRGBA); ok && s.Rect.Min != (image.Point{}) {
						want = originCopy(s)
					}
					requireSame(t, want, got)
				}
			}
		}
	}
	require.Equal(t, "paeth", pngenc.FilterPaeth.String())
	require.Equal(t, pngenc.FilterUp, pngenc.DefaultFilter)
}

func TestBadLevel(t *testing.T) {
	t.Parallel()
	e := &pngenc.Encoder{Level: 12}
	require.Error(t, e.Encode(&bytes.Buffer{}, newGray(8, 8, 1)))
}

func originCopy(s *image.NRGBA) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, s.Rect.Dx(), s.Rect.Dy()))
	for y := range s.Rect.Dy() {
		copy(m.Pix[y*m.Stride:][:4*s.Rect.Dx()], s.Pix[y*s.Stride:][:4*s.Rect.Dx()])
	}
	return m
}

// BenchmarkFilters encodes the real outputs (the 1024² and 512² UV
// textures, the depth and normal maps) with each filter at the default level
// and with the default filter at other levels. Each iteration runs every
// setting back to back on the same image, so their figures compare runs
// under the same load: <setting>-ms (wall), <setting>-cpu-ms (all threads)
// and <setting>-bytes.
func BenchmarkFilters(b *testing.B) {
	r := realImagesFor(b)
	var settings []encoder
	add := func(name string, e *pngenc.Encoder) { settings = append(settings, encoder{name, e.Encode}) }
	for _, f := range allFilters[1:] {
		add(f.String()+"-l1", &pngenc.Encoder{Filter: f})
	}
	for _, l := range []int{-2, 2, 3, 4, 6} {
		add(fmt.Sprintf("up-l%d", l), &pngenc.Encoder{Level: l})
	}
	add("paeth-l3", &pngenc.Encoder{Filter: pngenc.FilterPaeth, Level: 3})
	add("adaptive-l3", &pngenc.Encoder{Filter: pngenc.FilterAdaptive, Level: 3})
	for _, c := range []struct {
		name string
		img  image.Image
	}{{"uv_texture_1024", r.tex}, {"uv_texture_512", r.tex512}, {"depth", r.depth}, {"normals", r.normals}} {
		b.Run(c.name, func(b *testing.B) {
			spent, cpu, size := interleaved(b, c.img, settings)
			n := float64(b.N)
			for i, s := range settings {
				b.ReportMetric(float64(spent[i].Microseconds())/1000/n, s.name+"-ms")
				b.ReportMetric(float64(cpu[i].Microseconds())/1000/n, s.name+"-cpu-ms")
				b.ReportMetric(float64(size[i]), s.name+"-bytes")
			}
		})
	}
}
