package imageenc_test

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"testing"
	"time"

	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/worker/internal/imagedecode"
	"github.com/facefleet/facefleet/worker/internal/imageenc"
	"github.com/facefleet/facefleet/worker/internal/pngenc"
)

// variant is one way of writing the UV texture: encode writes it (and
// for JPEG its alpha PNG, counted in the bytes), decode reads the colour
// back for the PSNR.
type variant struct {
	name   string
	encode func(tex, alpha io.Writer, img *image.NRGBA) error
	decode func(io.Reader) (image.Image, error)
}

func variants() []variant {
	var pe pngenc.Encoder
	var e imageenc.Encoder
	vs := []variant{{"png", func(t, _ io.Writer, m *image.NRGBA) error { return pe.Encode(t, m) }, png.Decode}}
	for _, q := range []int{80, 85, 90, 95} {
		vs = append(vs, variant{fmt.Sprintf("jpeg-q%d", q), func(t, a io.Writer, m *image.NRGBA) error {
			if err := imageenc.JPEG(t, m, q); err != nil {
				return err
			}
			return pe.Encode(a, imageenc.Alpha(m))
		}, jpeg.Decode})
	}
	if imageenc.Supported(job.UVFormatWebP) {
		for _, q := range []float32{80, 90} {
			for _, m := range []int{0, 2, 4} {
				o := imageenc.WebPOptions{Quality: q, Method: m}
				vs = append(vs, variant{fmt.Sprintf("webp-q%.0f-m%d", q, m), func(t, _ io.Writer, m *image.NRGBA) error {
					return imageenc.WebP(t, m, o)
				}, decodeWebP})
			}
		}
	}
	vs = append(vs, variant{"default-" + job.UVFormatJPEG, func(t, a io.Writer, m *image.NRGBA) error {
		return e.Encode(job.UVFormatJPEG, t, a, m)
	}, jpeg.Decode})
	return vs
}

// BenchmarkUVFormats writes the real UV textures of the three photos at
// 1024² and 512² in every variant. Each iteration runs every variant back
// to back on the same texture, so the figures compare runs under the same
// machine load: <variant>-ms (wall time per texture), <variant>-bytes
// (texture + alpha file; -alpha-bytes the alpha file), <variant>-dB (PSNR of the colour over the texels
// that have colour, against the texture itself: PNG is lossless, +Inf is
// reported as 999).
func BenchmarkUVFormats(b *testing.B) {
	for _, size := range []int{1024, 512} {
		b.Run(fmt.Sprintf("uv_%d", size), func(b *testing.B) {
			texs := make([]*image.NRGBA, len(photos))
			for i := range photos {
				texs[i] = realTexture(b, i, size)
			}
			vs := variants()
			spent := make([]time.Duration, len(vs))
			bytesOut := make([]int, len(vs))
			alphaOut := make([]int, len(vs))
			db := make([]float64, len(vs))
			var tb, ab bytes.Buffer
			for i, v := range vs { // sizes and PSNR: once, outside the timing
				for _, tex := range texs {
					tb.Reset()
					ab.Reset()
					if err := v.encode(&tb, &ab, tex); err != nil {
						b.Fatal(err)
					}
					bytesOut[i] += tb.Len() + ab.Len()
					alphaOut[i] += ab.Len()
					got, err := v.decode(&tb)
					if err != nil {
						b.Fatal(err)
					}
					q := psnr(b, tex, got)
					db[i] += min(q, 999) / float64(len(texs))
				}
			}
			for b.Loop() {
				for i, v := range vs {
					for _, tex := range texs {
						tb.Reset()
						ab.Reset()
						t0 := time.Now()
						if err := v.encode(&tb, &ab, tex); err != nil {
							b.Fatal(err)
						}
						spent[i] += time.Since(t0)
					}
				}
			}
			n := float64(b.N * len(texs))
			for i, v := range vs {
				b.ReportMetric(float64(spent[i].Microseconds())/1000/n, v.name+"-ms")
				b.ReportMetric(float64(bytesOut[i])/float64(len(texs)), v.name+"-bytes")
				b.ReportMetric(db[i], v.name+"-dB")
				if alphaOut[i] > 0 {
					b.ReportMetric(float64(alphaOut[i])/float64(len(texs)), v.name+"-alpha-bytes")
				}
			}
		})
	}
}

func decodeWebP(r io.Reader) (image.Image, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return decodeWebPBytes(data)
}

// decodeWebPBytes decodes with imagedecode: libwebp in the builds that
// write WebP, as browsers show the file (Go's x/image/webp decodes the
// colour differently and would put every file 8–13 dB lower).
func decodeWebPBytes(data []byte) (image.Image, error) {
	img, err := imagedecode.Decode(data, imagedecode.DefaultLimits())
	if err != nil {
		return nil, err
	}
	return img.NRGBA, nil
}
