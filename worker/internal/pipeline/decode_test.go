package pipeline

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/image/draw"

	"github.com/facefleet/facefleet/worker/internal/imagedecode"
)

// bigPhoto makes a phone-sized JPEG from a test photo: the photo scaled k
// times (Catmull-Rom) and placed with its top-left corner at `at` on a
// canvas-sized textured picture, encoded by image/jpeg at quality 90
// (4:2:0).
func bigPhoto(t testing.TB, name string, k int, canvas, at image.Point) []byte {
	t.Helper()
	src, err := jpeg.Decode(bytes.NewReader(photo(t, name)))
	require.NoError(t, err)
	dst := image.NewRGBA(image.Rectangle{Max: canvas})
	// A textured background (waves at a few scales plus noise), so the
	// detector's context around a face is not flat.
	sx, sy := make([]float64, canvas.X), make([]float64, canvas.Y)
	for x := range sx {
		sx[x] = math.Sin(float64(x)/37) + 0.5*math.Sin(float64(x)/5.3)
	}
	for y := range sy {
		sy[y] = math.Cos(float64(y)/53) + 0.5*math.Sin(float64(y)/4.1)
	}
	seed := uint32(7)
	for y := range canvas.Y {
		for x := range canvas.X {
			seed = seed*1664525 + 1013904223
			v := 120 + 30*sx[x]*sy[y] + float64(seed>>28) - 8
			i := dst.PixOffset(x, y)
			dst.Pix[i], dst.Pix[i+1], dst.Pix[i+2], dst.Pix[i+3] = uint8(v), uint8(v*0.95+10*sy[y]), uint8(v*0.9+10*sx[x]), 255
		}
	}
	b := src.Bounds()
	draw.CatmullRom.Scale(dst, image.Rectangle{Min: at, Max: at.Add(b.Size().Mul(k))}, src, b, draw.Src, nil)
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 90}))
	return buf.Bytes()
}

// rotated6 is bigPhoto as a phone held upright writes it: the pixels stored
// turned 90° counter-clockwise, with EXIF orientation 6.
func rotated6(t testing.TB, data []byte) []byte {
	t.Helper()
	up, err := jpeg.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	rgba := image.NewRGBA(up.Bounds())
	draw.Draw(rgba, rgba.Rect, up, image.Point{}, draw.Src)
	return jpegOriented(t, rgba, 6)
}

// TestReducedDecodeLargePhoto runs large JPEGs through the pipeline twice,
// reduced (the default) and whole, and bounds how far the reduced run's
// results are from the whole run's: it must find the same faces, and their
// landmarks (in the whole picture's pixels) must lie within 0.3 % of the
// inter-ocular distance on average and 1.5 % at worst; pose within 1.5°
// (measured: 0.044 % / 0.10 % scaled, 0.17 % / 1.1 % for the region).
// The cases: a photo upscaled 4× (big faces: a smaller DCT scale), the
// same photo in a corner of a 12 MP frame (scale 1, only the face region
// decoded), that frame stored sideways with EXIF orientation 6, and three faces upscaled 4× (faces no larger than the texture
// needs, spread over the picture: decoded whole, results identical). With FACEFLEET_TEST_OUT set, the
// reduced and whole uv_texture.png of each face are written there.
func TestReducedDecodeLargePhoto(t *testing.T) {
	if imagedecode.JPEGDecoder != "libjpeg-turbo" {
		t.Skip("the reduced decode needs libjpeg-turbo's DCT scaling (image/jpeg decodes whole)")
	}
	eng := realEngine(t)
	reduced := New(eng, imagedecode.DefaultLimits(), nil)
	whole := New(eng, imagedecode.DefaultLimits(), nil)
	whole.wholeDecode = true
	o := Options{Geometry: true}.WithDefaults()
	for _, tc := range []struct {
		name, photo string
		k           int
		canvas, at  image.Point
		scaled      bool // expect a DCT scale below 1
		cropped     bool // expect a region
	}{
		{"upscaled", "kj_test1.jpg", 4, image.Pt(4096, 4096), image.Point{}, true, false},
		{"framed", "kj_test1.jpg", 1, image.Pt(4032, 3024), image.Pt(2400, 1300), false, true},
		{"framed-exif6", "kj_test1.jpg", 1, image.Pt(4032, 3024), image.Pt(2400, 1300), false, true},
		{"three-faces", "bf_Test3.jpg", 4, image.Pt(4096, 4096), image.Point{}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := bigPhoto(t, tc.photo, tc.k, tc.canvas, tc.at)
			if strings.HasSuffix(tc.name, "-exif6") {
				data = rotated6(t, data)
			}
			pl, err := reduced.plan(t.Context(), data, o)
			require.NoError(t, err)
			req := pl.req
			t.Logf("%s: %dx%d, plan: scale %d/%d, region %v", tc.name, tc.canvas.X, tc.canvas.Y, req.Scale.Num, req.Scale.Denom, req.Region)
			require.Equal(t, tc.scaled, req.Scale.Factor() < 1, "scale")
			require.Equal(t, tc.cropped, !req.Region.Empty(), "region")

			got, err := reduced.Run(t.Context(), data, o, nil)
			require.NoError(t, err)
			defer got.Release()
			want, err := whole.Run(t.Context(), data, o, nil)
			require.NoError(t, err)
			defer want.Release()
			require.Equal(t, want.Result.Image, got.Result.Image)
			require.Len(t, got.Result.Faces, len(want.Result.Faces))
			require.NotEmpty(t, want.Result.Faces)
			if !tc.scaled && !tc.cropped {
				for i, w := range want.Result.Faces {
					require.Equal(t, w.Landmarks, got.Result.Faces[i].Landmarks)
					require.Equal(t, fileData(t, want, w.Files[FileUVTexture]), fileData(t, got, got.Result.Faces[i].Files[FileUVTexture]))
				}
			}
			for i, w := range want.Result.Faces {
				g := got.Result.Faces[i]
				lw, lg := w.Landmarks, g.Landmarks
				iod := math.Hypot(float64(lw[33][0]-lw[263][0]), float64(lw[33][1]-lw[263][1]))
				var sum, worst float64
				for j := range lw {
					d := math.Hypot(float64(lg[j][0]-lw[j][0]), float64(lg[j][1]-lw[j][1]))
					sum += d
					worst = max(worst, d)
				}
				mean := sum / float64(len(lw))
				texDiff := textureDiff(t, fileData(t, want, w.Files[FileUVTexture]), fileData(t, got, g.Files[FileUVTexture]))
				t.Logf("face %d: IOD %.0f px; landmarks mean %.2f px (%.3f %% IOD), worst %.2f px (%.3f %% IOD); box %v vs %v; yaw %.2f vs %.2f, pitch %.2f vs %.2f; texture mean |diff| %.2f levels",
					i, iod, mean, 100*mean/iod, worst, 100*worst/iod, g.BBox, w.BBox, g.Pose.Yaw, w.Pose.Yaw, g.Pose.Pitch, w.Pose.Pitch, texDiff)
				require.Less(t, mean/iod, 0.003, "face %d mean landmark offset", i)
				require.Less(t, worst/iod, 0.015, "face %d worst landmark offset", i)
				require.InDelta(t, w.Pose.Yaw, g.Pose.Yaw, 1.5)
				require.InDelta(t, w.Pose.Pitch, g.Pose.Pitch, 1.5)
				require.InDelta(t, w.Pose.Roll, g.Pose.Roll, 1.5)
				if dir := os.Getenv("FACEFLEET_TEST_OUT"); dir != "" {
					for name, out := range map[string]*Output{"reduced": got, "whole": want} {
						p := filepath.Join(dir, tc.name+"-face"+string(rune('0'+i))+"-"+name+".png")
						require.NoError(t, os.WriteFile(p, fileData(t, out, out.Result.Faces[i].Files[FileUVTexture]), 0o644))
					}
				}
			}
		})
	}
}

func fileData(t testing.TB, out *Output, path string) []byte {
	t.Helper()
	for _, f := range out.Files {
		if f.Path == path {
			return f.Data
		}
	}
	t.Fatalf("no file %s", path)
	return nil
}

// textureDiff is the mean absolute RGB difference of two textures over the
// texels opaque in both.
func textureDiff(t testing.TB, a, b []byte) float64 {
	t.Helper()
	ia, err := png.Decode(bytes.NewReader(a))
	require.NoError(t, err)
	ib, err := png.Decode(bytes.NewReader(b))
	require.NoError(t, err)
	require.Equal(t, ia.Bounds(), ib.Bounds())
	var sum float64
	var n int
	r := ia.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ca := color.NRGBAModel.Convert(ia.At(x, y)).(color.NRGBA)
			cb := color.NRGBAModel.Convert(ib.At(x, y)).(color.NRGBA)
			if ca.A < 255 || cb.A < 255 {
				continue
			}
			sum += math.Abs(float64(ca.R)-float64(cb.R)) + math.Abs(float64(ca.G)-float64(cb.G)) + math.Abs(float64(ca.B)-float64(cb.B))
			n += 3
		}
	}
	require.Positive(t, n)
	return sum / float64(n)
}

// BenchmarkPipeline12MP runs 12 MP phone-shaped JPEGs (see
// TestPeakMemory12MP) through the real pipeline, decoded whole and reduced,
// every variant back to back in each iteration so they share the machine's
// load: <variant>-ms is wall time per run, <variant>-cpu-ms the process's
// CPU time, <variant>-decode-ms the decode stage (its pre-pass detection
// counted under detect).
func BenchmarkPipeline12MP(b *testing.B) {
	eng := realEngine(b)
	reduced := New(eng, imagedecode.DefaultLimits(), nil)
	whole := New(eng, imagedecode.DefaultLimits(), nil)
	whole.wholeDecode = true
	photos := []struct {
		name string
		data []byte
	}{
		{"selfie", bigPhoto(b, "kj_test1.jpg", 3, image.Pt(4032, 3024), image.Pt(480, -24))},
		{"framed", bigPhoto(b, "kj_test1.jpg", 1, image.Pt(4032, 3024), image.Pt(2400, 1300))},
	}
	type variant struct {
		name string
		p    *Pipeline
		data []byte
	}
	var vs []variant
	for _, ph := range photos {
		vs = append(vs, variant{ph.name + "-whole", whole, ph.data}, variant{ph.name + "-reduced", reduced, ph.data})
	}
	wall := make([]time.Duration, len(vs))
	cpu := make([]time.Duration, len(vs))
	dec := make([]float64, len(vs))
	for b.Loop() {
		for i, v := range vs {
			c0, t0 := cpuTime(b), time.Now()
			out, err := v.p.Run(b.Context(), v.data, Options{}, nil)
			require.NoError(b, err)
			wall[i] += time.Since(t0)
			cpu[i] += cpuTime(b) - c0
			dec[i] += out.Result.TimingsMS.Decode
			out.Release()
		}
	}
	n := float64(b.N)
	for i, v := range vs {
		b.ReportMetric(float64(wall[i].Microseconds())/1000/n, v.name+"-ms")
		b.ReportMetric(float64(cpu[i].Microseconds())/1000/n, v.name+"-cpu-ms")
		b.ReportMetric(dec[i]/n, v.name+"-decode-ms")
	}
	b.ReportMetric(0, "ns/op")
}
