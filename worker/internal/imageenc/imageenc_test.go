package imageenc_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"sync"
	"testing"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/worker/internal/imagedecode"
	"github.com/facefleet/facefleet/worker/internal/imageenc"
	"github.com/facefleet/facefleet/worker/internal/texture"
	"github.com/stretchr/testify/require"
)

// photos are real photos with their FaceMesh landmarks (other packages'
// test data, read in place).
var photos = []struct{ name, image, landmarks string }{
	{"bf_Test1", "../pngenc/testdata/bf_Test1.jpg", "../pngenc/testdata/bf_Test1.face0.json"},
	{"ddfa_jianzhuguo", "../engine/testdata/ddfa_jianzhuguo.jpg", "../geometry/testdata/landmarks/ddfa_jianzhuguo.face0.json"},
	{"tim_douglas", "../texture/testdata/pexels-tim-douglas-6567248.jpg", "../geometry/testdata/landmarks/pexels-tim-douglas-6567248.face0.json"},
}

type texKey struct {
	photo int
	size  int
}

var texCache sync.Map // texKey → *image.NRGBA

// realTexture is the pipeline's UV texture of photo i at size².
func realTexture(tb testing.TB, i, size int) *image.NRGBA {
	tb.Helper()
	if v, ok := texCache.Load(texKey{i, size}); ok {
		return v.(*image.NRGBA)
	}
	p := photos[i]
	data, err := os.ReadFile(p.image)
	require.NoError(tb, err)
	img, err := imagedecode.Decode(data, imagedecode.DefaultLimits())
	require.NoError(tb, err)
	raw, err := os.ReadFile(p.landmarks)
	require.NoError(tb, err)
	var lm struct {
		Landmarks [][3]float32 `json:"landmarks"`
	}
	require.NoError(tb, json.Unmarshal(raw, &lm))
	tex, _, err := texture.Unwrap(img.NRGBA, lm.Landmarks, models.Canonical(), texture.Options{Size: size})
	require.NoError(tb, err)
	texCache.Store(texKey{i, size}, tex)
	return tex
}

// psnr is imageenc.PSNR, which must be a number.
func psnr(tb testing.TB, want *image.NRGBA, got image.Image) float64 {
	tb.Helper()
	q := imageenc.PSNR(want, got)
	require.False(tb, math.IsNaN(q), "sizes %v and %v", want.Rect.Size(), got.Bounds().Size())
	return q
}

// alphaOf is the alpha channel of a decoded image, 0..255.
func alphaOf(img image.Image) []byte {
	b := img.Bounds()
	out := make([]byte, 0, b.Dx()*b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			_, _, _, a := img.At(x, y).RGBA()
			out = append(out, uint8(a>>8))
		}
	}
	return out
}

// Floors of the PSNR (dB, coloured texels) of the lossy formats at the
// package's settings; measured on the three photos at 512² and 1024²
// (BenchmarkUVFormats), with a margin of about 2 dB.
const (
	minPSNRJPEG = 40
	minPSNRWebP = 39
)

// Every format round-trips: PNG exactly, JPEG and WebP within their PSNR
// floor, and the alpha (uv_alpha.png for JPEG, in the file for WebP) equals
// the texture's exactly.
func TestEncodeRoundTrip(t *testing.T) {
	t.Parallel()
	var e imageenc.Encoder
	for i, p := range photos {
		for _, size := range []int{512, 1024} {
			tex := realTexture(t, i, size)
			mask := imageenc.Alpha(tex).Pix
			require.Equal(t, alphaOf(tex), mask)
			require.Contains(t, mask, byte(0))
			require.Contains(t, mask, byte(255))
			for _, f := range imageenc.SupportedFormats() {
				var texBuf, alphaBuf bytes.Buffer
				require.NoError(t, e.Encode(f, &texBuf, &alphaBuf, tex), f)
				file, ok := imageenc.FileOf(f)
				require.True(t, ok)
				var got image.Image
				var err error
				switch f {
				case job.UVFormatPNG:
					got, err = png.Decode(&texBuf)
				case job.UVFormatJPEG:
					got, err = jpeg.Decode(&texBuf)
				case job.UVFormatWebP:
					got, err = decodeWebPBytes(texBuf.Bytes())
				}
				require.NoError(t, err, "%s %s %d", p.name, f, size)
				q := psnr(t, tex, got)
				t.Logf("%s %d² %s: %.2f dB", p.name, size, f, q)
				switch f {
				case job.UVFormatPNG:
					require.True(t, math.IsInf(q, 1), "png is lossless")
					require.Equal(t, mask, alphaOf(got))
				case job.UVFormatJPEG:
					require.Greater(t, q, float64(minPSNRJPEG))
					require.NotEmpty(t, file.AlphaName)
					a, err := png.Decode(&alphaBuf)
					require.NoError(t, err)
					require.IsType(t, &image.Gray{}, a)
					require.Equal(t, mask, a.(*image.Gray).Pix)
				case job.UVFormatWebP:
					require.Greater(t, q, float64(minPSNRWebP))
					require.Equal(t, mask, alphaOf(got), "webp keeps the alpha exactly")
				}
				if file.AlphaName == "" {
					require.Zero(t, alphaBuf.Len(), "%s writes no alpha file", f)
				}
			}
		}
	}
}

// Every format the job message knows has a file; the build writes PNG and
// JPEG always, WebP with cgo.
func TestFormats(t *testing.T) {
	t.Parallel()
	for _, f := range job.UVFormats() {
		file, ok := imageenc.FileOf(f)
		require.True(t, ok, f)
		require.NotEmpty(t, file.Name)
		require.NotEmpty(t, file.ContentType)
	}
	require.Contains(t, imageenc.SupportedFormats(), job.UVFormatPNG)
	require.Contains(t, imageenc.SupportedFormats(), job.UVFormatJPEG)
	require.Equal(t, job.DefaultUVFormat, imageenc.SupportedFormats()[0])
	_, ok := imageenc.FileOf("gif")
	require.False(t, ok)
	require.False(t, imageenc.Supported("gif"))
	t.Logf("JPEG encoder %s; formats %v", imageenc.JPEGEncoder, imageenc.SupportedFormats())
}

func TestPSNR(t *testing.T) {
	t.Parallel()
	want := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	copy(want.Pix, []byte{10, 20, 30, 255, 99, 99, 99, 0}) // the second texel has no colour
	got := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	copy(got.Pix, []byte{10, 20, 30, 255, 0, 0, 0, 0})
	require.True(t, math.IsInf(imageenc.PSNR(want, got), 1))
	got.Pix[0] = 13 // one channel of three off by 3: MSE 3
	require.InDelta(t, 10*math.Log10(255*255/3.0), imageenc.PSNR(want, got), 1e-9)
	require.InDelta(t, 10*math.Log10(255*255/3.0), imageenc.PSNR(want, image.Image(toRGBA(got))), 1e-9, "any image type")
	require.True(t, math.IsNaN(imageenc.PSNR(want, image.NewNRGBA(image.Rect(0, 0, 3, 1)))))
	require.True(t, math.IsNaN(imageenc.PSNR(image.NewNRGBA(image.Rect(0, 0, 2, 1)), got)), "no colour")
}

func toRGBA(m *image.NRGBA) *image.RGBA {
	r := image.NewRGBA(m.Rect)
	for y := m.Rect.Min.Y; y < m.Rect.Max.Y; y++ {
		for x := m.Rect.Min.X; x < m.Rect.Max.X; x++ {
			r.Set(x, y, m.At(x, y))
		}
	}
	return r
}

func TestEncodeErrors(t *testing.T) {
	t.Parallel()
	var e imageenc.Encoder
	var a, b bytes.Buffer
	tex := image.NewNRGBA(image.Rect(0, 0, 8, 8))
	require.ErrorIs(t, e.Encode("gif", &a, &b, tex), imageenc.ErrUnsupported)
	require.ErrorIs(t, e.Encode(job.UVFormatPNG, &a, &b, nil), imageenc.ErrEmpty)
	require.ErrorIs(t, e.Encode(job.UVFormatJPEG, &a, &b, image.NewNRGBA(image.Rect(0, 0, 0, 4))), imageenc.ErrEmpty)
	require.ErrorIs(t, imageenc.JPEG(&a, nil, 90), imageenc.ErrEmpty)
	if imageenc.Supported(job.UVFormatWebP) {
		require.ErrorIs(t, imageenc.WebP(&a, nil, imageenc.WebPOptions{}), imageenc.ErrEmpty)
		require.Error(t, imageenc.WebP(&a, tex, imageenc.WebPOptions{Quality: 90, Method: 9}), "method 9 is out of range")
	} else {
		require.ErrorIs(t, imageenc.WebP(&a, tex, imageenc.WebPOptions{Quality: 90}), imageenc.ErrUnsupported)
	}
	fail := errors.New("disk full")
	require.ErrorIs(t, imageenc.JPEG(failWriter{fail}, tex, 90), fail)
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

// A sub-image (stride wider than the row, Pix not at the origin) encodes as
// its own pixels.
func TestSubImage(t *testing.T) {
	t.Parallel()
	tex := realTexture(t, 0, 512)
	sub := tex.SubImage(image.Rect(100, 120, 400, 380)).(*image.NRGBA)
	var buf bytes.Buffer
	require.NoError(t, imageenc.JPEG(&buf, sub, 95))
	got, err := jpeg.Decode(&buf)
	require.NoError(t, err)
	// Compare against an origin-based copy.
	cp := image.NewNRGBA(image.Rect(0, 0, 300, 260))
	for y := range 260 {
		copy(cp.Pix[y*cp.Stride:][:4*300], sub.Pix[y*sub.Stride:][:4*300])
	}
	require.Greater(t, psnr(t, cp, got), 38.0)
}
