package pngenc_test

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/worker/internal/geometry"
	"github.com/facefleet/facefleet/worker/internal/imagedecode"
	"github.com/facefleet/facefleet/worker/internal/pngenc"
	"github.com/facefleet/facefleet/worker/internal/texture"
)

// realImages are the pipeline's real outputs for one photo (testdata/):
// the 1024² UV texture, and the full-size depth and normal maps.
type realImages struct {
	tex     *image.NRGBA
	depth   *image.Gray16
	normals *image.NRGBA
}

var real = sync.OnceValues(func() (realImages, error) {
	data, err := os.ReadFile("testdata/bf_Test1.jpg")
	if err != nil {
		return realImages{}, err
	}
	img, err := imagedecode.Decode(data, imagedecode.DefaultLimits())
	if err != nil {
		return realImages{}, err
	}
	raw, err := os.ReadFile("testdata/bf_Test1.face0.json")
	if err != nil {
		return realImages{}, err
	}
	var lm struct {
		Landmarks [][3]float32 `json:"landmarks"`
	}
	if err := json.Unmarshal(raw, &lm); err != nil {
		return realImages{}, err
	}
	mesh := models.Canonical()
	tex, _, err := texture.Unwrap(img.NRGBA, lm.Landmarks, mesh, texture.Options{Size: 1024})
	if err != nil {
		return realImages{}, err
	}
	w, h := img.Rect.Dx(), img.Rect.Dy()
	return realImages{
		tex:     tex,
		depth:   geometry.RenderDepth(lm.Landmarks, w, h, mesh.Triangles),
		normals: geometry.RenderNormals(lm.Landmarks, w, h, mesh.Triangles),
	}, nil
})

func realImagesFor(tb testing.TB) realImages {
	tb.Helper()
	r, err := real()
	require.NoError(tb, err)
	return r
}

// TestRealImagesRoundTrip checks the benchmark images themselves.
func TestRealImagesRoundTrip(t *testing.T) {
	t.Parallel()
	r := realImagesFor(t)
	for _, img := range []image.Image{r.tex, r.depth, r.normals} {
		roundTrip(t, &pngenc.Encoder{}, img)
	}
}

type encoder struct {
	name string
	enc  func(io.Writer, image.Image) error
}

func encoders() []encoder {
	def := &png.Encoder{}
	fastest := &png.Encoder{CompressionLevel: png.BestSpeed}
	one := &pngenc.Encoder{Bands: 1}
	auto := &pngenc.Encoder{}
	return []encoder{
		{"stdlib-default", def.Encode},
		{"stdlib-bestspeed", fastest.Encode},
		{"pngenc-1band", one.Encode},
		{"pngenc", auto.Encode},
	}
}

func pixBytes(img image.Image) int64 {
	switch m := img.(type) {
	case *image.NRGBA:
		return int64(len(m.Pix))
	case *image.Gray16:
		return int64(len(m.Pix))
	}
	return 0
}

// BenchmarkEncode encodes each real output with every encoder. Each
// iteration runs all four encoders back to back on the same image, so the
// ratios it reports (x-vs-default, x-vs-bestspeed: how many times faster
// pngenc is; size ratios: pngenc bytes / stdlib bytes) compare runs made
// under the same machine load.
func BenchmarkEncode(b *testing.B) {
	r := realImagesFor(b)
	for _, c := range []struct {
		name string
		img  image.Image
	}{{"uv_texture_1024", r.tex}, {"depth_1024", r.depth}, {"normals_1024", r.normals}} {
		b.Run(c.name, func(b *testing.B) {
			encs := encoders()
			spent := make([]time.Duration, len(encs))
			size := make([]int, len(encs))
			var buf bytes.Buffer
			b.SetBytes(pixBytes(c.img))
			b.ReportAllocs()
			for b.Loop() {
				for i, e := range encs {
					buf.Reset()
					t0 := time.Now()
					if err := e.enc(&buf, c.img); err != nil {
						b.Fatal(err)
					}
					spent[i] += time.Since(t0)
					size[i] = buf.Len()
				}
			}
			n := float64(b.N)
			for i, e := range encs {
				b.ReportMetric(float64(spent[i].Microseconds())/1000/n, e.name+"-ms")
			}
			b.ReportMetric(float64(spent[0])/float64(spent[3]), "x-vs-default")
			b.ReportMetric(float64(spent[1])/float64(spent[3]), "x-vs-bestspeed")
			b.ReportMetric(float64(spent[2])/float64(spent[3]), "x-vs-1band")
			b.ReportMetric(float64(size[3])/float64(size[0]), "size-vs-default")
			b.ReportMetric(float64(size[3])/float64(size[1]), "size-vs-bestspeed")
			b.ReportMetric(float64(size[3]), "pngenc-bytes")
		})
	}
}

// BenchmarkEncodeEach times one encoder per sub-benchmark (ns/op, MB/s of
// raw pixels) for benchstat.
func BenchmarkEncodeEach(b *testing.B) {
	r := realImagesFor(b)
	for _, c := range []struct {
		name string
		img  image.Image
	}{{"uv_texture_1024", r.tex}, {"depth_1024", r.depth}, {"normals_1024", r.normals}} {
		for _, e := range encoders() {
			b.Run(c.name+"/"+e.name, func(b *testing.B) {
				var buf bytes.Buffer
				b.SetBytes(pixBytes(c.img))
				b.ReportAllocs()
				for b.Loop() {
					buf.Reset()
					if err := e.enc(&buf, c.img); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(buf.Len()), "png-bytes")
			})
		}
	}
}
