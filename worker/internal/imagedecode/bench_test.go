package imagedecode

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// phone12MP is a 3024×4032 (12.2 MP, a phone's portrait photo) picture made
// from the test photo: upscaled (Catmull-Rom) with ±6 levels of
// deterministic noise, so it compresses about like a real photo rather than
// like a smooth upscale. Encoded once per test binary: JPEG q90 4:2:0
// (cjpeg), PNG (image/png, BestSpeed), WebP lossy q90 and lossless -z 1
// (cwebp).
type phoneFiles struct {
	jpeg, png, webpLossy, webpLossless []byte
}

var phoneOnce struct {
	sync.Mutex
	files *phoneFiles
}

func phone(tb testing.TB) *phoneFiles {
	tb.Helper()
	phoneOnce.Lock()
	defer phoneOnce.Unlock()
	if phoneOnce.files != nil {
		return phoneOnce.files
	}
	src, err := jpeg.Decode(bytes.NewReader(readFile(tb, "ddfa_jianzhuguo.jpg")))
	require.NoError(tb, err)
	img := image.NewNRGBA(image.Rect(0, 0, 3024, 4032))
	draw.CatmullRom.Scale(img, img.Rect, src, src.Bounds(), draw.Src, nil)
	seed := uint32(1)
	for i := range img.Pix {
		if i%4 == 3 {
			continue
		}
		seed = seed*1664525 + 1013904223
		v := int(img.Pix[i]) + int(seed>>28) - 6
		img.Pix[i] = uint8(min(max(v, 0), 255))
	}
	var ppm bytes.Buffer
	fmt.Fprintf(&ppm, "P6\n%d %d\n255\n", img.Rect.Dx(), img.Rect.Dy())
	for i := 0; i < len(img.Pix); i += 4 {
		ppm.Write(img.Pix[i : i+3])
	}
	f := &phoneFiles{jpeg: tool(tb, ppm.Bytes(), "cjpeg", "-quality", "90")}
	var pb bytes.Buffer
	require.NoError(tb, (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&pb, opaqueView(img)))
	f.png = pb.Bytes()
	dir := tb.TempDir()
	in := filepath.Join(dir, "in.ppm")
	require.NoError(tb, os.WriteFile(in, ppm.Bytes(), 0o600))
	f.webpLossy = tool(tb, nil, "cwebp", "-quiet", "-q", "90", in, "-o", "-")
	f.webpLossless = tool(tb, nil, "cwebp", "-quiet", "-lossless", "-z", "1", in, "-o", "-")
	phoneOnce.files = f
	return f
}

// BenchmarkDecode12MP decodes the 12 MP phone picture every way the worker
// can, all variants back to back in each iteration so they share the
// machine's load: <variant>-ms is the wall time of one decode and
// <variant>-MB what it allocated (≈ its peak heap: the pixels and the
// decoder's buffers). Variants: JPEG whole (libjpeg-turbo; image/jpeg for
// reference), DCT-scaled to 1/2, 1/4, 1/8, a 1200×1200 face region at 1 and
// at 1/2; PNG (image/png); WebP lossy and lossless, libwebp (the cgo
// build's decoder) and golang.org/x/image/webp.
func BenchmarkDecode12MP(b *testing.B) {
	f := phone(b)
	face := image.Rect(900, 1100, 2100, 2300)
	type variant struct {
		name string
		run  func() error
	}
	req := func(data []byte, r Request) func() error {
		return func() error { _, err := DecodeRequest(data, DefaultLimits(), r); return err }
	}
	vs := []variant{
		{"jpeg-whole", req(f.jpeg, Request{})},
		{"jpeg-1_2", req(f.jpeg, Request{Scale: Scale{1, 2}})},
		{"jpeg-1_4", req(f.jpeg, Request{Scale: Scale{1, 4}})},
		{"jpeg-1_8", req(f.jpeg, Request{Scale: Scale{1, 8}})},
		{"jpeg-region", req(f.jpeg, Request{Region: face})},
		{"jpeg-region-1_2", req(f.jpeg, Request{Scale: Scale{1, 2}, Region: face})},
		{"jpeg-imagejpeg", func() error { _, err := decodeJPEGStd(f.jpeg); return err }},
		{"png", req(f.png, Request{})},
		{"webp-lossy-" + WebPDecoder, req(f.webpLossy, Request{})},
		{"webp-lossy-ximage", func() error { _, err := webp.Decode(bytes.NewReader(f.webpLossy)); return err }},
		{"webp-lossless-" + WebPDecoder, req(f.webpLossless, Request{})},
		{"webp-lossless-ximage", func() error { _, err := webp.Decode(bytes.NewReader(f.webpLossless)); return err }},
	}
	if WebPDecoder != "libwebp" {
		vs = append(vs[:8], vs[9], vs[11])
	}
	sums := make([]time.Duration, len(vs))
	allocs := make([]uint64, len(vs))
	var ms runtime.MemStats
	for b.Loop() {
		for i, v := range vs {
			runtime.ReadMemStats(&ms)
			a := ms.TotalAlloc
			t := time.Now()
			if err := v.run(); err != nil {
				b.Fatalf("%s: %v", v.name, err)
			}
			sums[i] += time.Since(t)
			runtime.ReadMemStats(&ms)
			allocs[i] += ms.TotalAlloc - a
		}
	}
	for i, v := range vs {
		b.ReportMetric(float64(sums[i].Microseconds())/1000/float64(b.N), v.name+"-ms")
		b.ReportMetric(float64(allocs[i])/(1<<20)/float64(b.N), v.name+"-MB")
	}
	b.ReportMetric(0, "ns/op") // the per-variant figures are the result
	b.Logf("sizes: jpeg %d KB, png %d KB, webp lossy %d KB, lossless %d KB", len(f.jpeg)>>10, len(f.png)>>10, len(f.webpLossy)>>10, len(f.webpLossless)>>10)
}
