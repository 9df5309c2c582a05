package pngenc_test

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"os"
	"sync"
	"syscall"
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
// the 1024² (and 512²) UV texture, and the full-size depth and normal maps.
type realImages struct {
	tex     *image.NRGBA
	tex512  *image.NRGBA // the same at 512²
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
	tex512, _, err := texture.Unwrap(img.NRGBA, lm.Landmarks, mesh, texture.Options{Size: 512})
	if err != nil {
		return realImages{}, err
	}
	w, h := img.Rect.Dx(), img.Rect.Dy()
	return realImages{
		tex:     tex,
		tex512:  tex512,
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

// cpuTime is the process's user+system CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	require.NoError(tb, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// interleaved runs every encoder back to back on img in each iteration of
// b's loop, so their figures compare runs under the same machine load, and
// returns each one's total wall and CPU time and its last output's size.
func interleaved(b *testing.B, img image.Image, encs []encoder) (spent, cpu []time.Duration, size []int) {
	spent = make([]time.Duration, len(encs))
	cpu = make([]time.Duration, len(encs))
	size = make([]int, len(encs))
	var buf bytes.Buffer
	for b.Loop() {
		for i, e := range encs {
			buf.Reset()
			t0, c0 := time.Now(), cpuTime(b)
			if err := e.enc(&buf, img); err != nil {
				b.Fatal(err)
			}
			spent[i] += time.Since(t0)
			cpu[i] += cpuTime(b) - c0
			size[i] = buf.Len()
		}
	}
	return spent, cpu, size
}

// BenchmarkEncode encodes each real output with every encoder. Each
// iteration runs all four encoders back to back on the same image, so the
// ratios it reports compare runs made under the same machine load:
// x-vs-default, x-vs-bestspeed, x-vs-1band are how many times less wall
// time pngenc takes; cpu-x-vs-… the same for CPU time (user+system, all
// threads: what a busy machine pays); size-vs-… are pngenc's bytes over
// the other encoder's.
func BenchmarkEncode(b *testing.B) {
	r := realImagesFor(b)
	for _, c := range []struct {
		name string
		img  image.Image
	}{{"uv_texture_1024", r.tex}, {"depth_1024", r.depth}, {"normals_1024", r.normals}} {
		b.Run(c.name, func(b *testing.B) {
			encs := encoders()
			b.SetBytes(pixBytes(c.img))
			b.ReportAllocs()
			spent, cpu, size := interleaved(b, c.img, encs)
			n := float64(b.N)
			for i, e := range encs {
				b.ReportMetric(float64(spent[i].Microseconds())/1000/n, e.name+"-ms")
				b.ReportMetric(float64(cpu[i].Microseconds())/1000/n, e.name+"-cpu-ms")
			}
			b.ReportMetric(float64(cpu[0])/float64(cpu[3]), "cpu-x-vs-default")
			b.ReportMetric(float64(cpu[1])/float64(cpu[3]), "cpu-x-vs-bestspeed")
			b.ReportMetric(float64(cpu[2])/float64(cpu[3]), "cpu-x-vs-1band")
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
