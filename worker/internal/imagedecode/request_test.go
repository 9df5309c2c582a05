package imagedecode

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/toolcheck"
)

// tool runs a command (djpeg, cjpeg, cwebp, dwebp) on stdin.
func tool(t testing.TB, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		toolcheck.Missing(t, "%s not found: install libjpeg-turbo-progs (make setup)", name)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s %v: %s", name, args, stderr.String())
	return out
}

// dwebp decodes data with libwebp's dwebp (Debian webp) into a PAM (RGBA).
func dwebp(t *testing.T, data []byte) image.Image {
	t.Helper()
	f := filepath.Join(t.TempDir(), "in.webp")
	require.NoError(t, os.WriteFile(f, data, 0o600))
	out := tool(t, nil, "dwebp", "-quiet", "-pam", "-o", "-", f)
	img, err := decodePAM(out)
	require.NoError(t, err)
	return img
}

// decodePAM reads an 8-bit RGB_ALPHA PAM (P7), dwebp's -pam output.
func decodePAM(b []byte) (*image.NRGBA, error) {
	end := bytes.Index(b, []byte("ENDHDR\n"))
	if !bytes.HasPrefix(b, []byte("P7\n")) || end < 0 {
		return nil, fmt.Errorf("not a PAM")
	}
	var w, h, depth, maxv int
	for _, line := range strings.Split(string(b[3:end]), "\n") {
		var k string
		var v int
		if n, _ := fmt.Sscan(line, &k, &v); n == 2 {
			switch k {
			case "WIDTH":
				w = v
			case "HEIGHT":
				h = v
			case "DEPTH":
				depth = v
			case "MAXVAL":
				maxv = v
			}
		}
	}
	pix := b[end+len("ENDHDR\n"):]
	if depth != 4 || maxv != 255 || len(pix) < 4*w*h {
		return nil, fmt.Errorf("PAM %dx%d depth %d maxval %d, %d bytes", w, h, depth, maxv, len(pix))
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	copy(img.Pix, pix)
	return img, nil
}

func djpegArgs(t *testing.T, data []byte, args ...string) image.Image {
	t.Helper()
	img, err := decodePNM(tool(t, data, "djpeg", append(args, "-pnm")...))
	require.NoError(t, err)
	return img
}

// scaleJPEGs are JPEGs of the kinds phones and cameras write, made from the
// real photo with cjpeg: 4:2:0 baseline (the photo itself), 4:4:4, 4:2:2
// progressive, and greyscale. Their sizes are not multiples of the MCU, so
// partial blocks at the right and bottom edges are covered.
func scaleJPEGs(t *testing.T) map[string][]byte {
	t.Helper()
	photo := readFile(t, "ddfa_jianzhuguo.jpg")
	ppm := tool(t, photo, "djpeg", "-pnm")
	return map[string][]byte{
		"420":          photo,
		"444":          tool(t, ppm, "cjpeg", "-quality", "92", "-sample", "1x1"),
		"422-progress": tool(t, ppm, "cjpeg", "-quality", "85", "-sample", "2x1", "-progressive"),
		"gray":         readFile(t, "video-005.gray.jpeg"),
	}
}

// TestDecodeScaledMatchesDjpeg: every DCT scale libjpeg-turbo offers comes
// out exactly as djpeg -scale M/N writes it.
func TestDecodeScaledMatchesDjpeg(t *testing.T) {
	t.Parallel()
	if JPEGDecoder != "libjpeg-turbo" {
		t.Skip("image/jpeg decodes at full size only")
	}
	scales := JPEGScales()
	require.Contains(t, scales, Scale{1, 8})
	require.Contains(t, scales, Scale{1, 1})
	for name, data := range scaleJPEGs(t) {
		for _, sc := range scales {
			t.Run(fmt.Sprintf("%s-%d_%d", name, sc.Num, sc.Denom), func(t *testing.T) {
				t.Parallel()
				img, err := DecodeRequest(data, DefaultLimits(), Request{Scale: sc})
				require.NoError(t, err)
				require.Equal(t, sc, img.Scale)
				require.Equal(t, sc == Scale{1, 1}, !img.Reduced())
				requireClose(t, djpegArgs(t, data, "-scale", fmt.Sprintf("%d/%d", sc.Num, sc.Denom)), img.NRGBA, 0)
			})
		}
	}
}

// TestDecodeRegionMatchesDjpeg: a region decode is exactly djpeg -scale
// M/N -crop of the region's scaled pixels (rounded outward; djpeg moves the
// left edge to the iMCU boundary as jpeg_crop_scanline does), and it
// covers the region asked for.
func TestDecodeRegionMatchesDjpeg(t *testing.T) {
	t.Parallel()
	if JPEGDecoder != "libjpeg-turbo" {
		t.Skip("image/jpeg decodes whole only")
	}
	for name, data := range scaleJPEGs(t) {
		h, err := DecodeHeader(data, DefaultLimits())
		require.NoError(t, err)
		W, H := h.Width, h.Height
		regions := []image.Rectangle{
			image.Rect(W/11, H/9, W*7/10, H*3/4), // interior, corner off the MCU grid
			image.Rect(0, 0, W/4, H/5),           // top-left corner
			image.Rect(W/2, H/2, W, H),           // to the right and bottom edges (partial blocks)
			image.Rect(-50, H-40, 9000, H-2),     // clipped to the picture
		}
		for i, r := range regions {
			for _, sc := range []Scale{{1, 1}, {5, 8}, {1, 2}, {1, 4}} {
				t.Run(fmt.Sprintf("%s-%d-%d_%d", name, i, sc.Num, sc.Denom), func(t *testing.T) {
					t.Parallel()
					img, err := DecodeRequest(data, DefaultLimits(), Request{Scale: sc, Region: r})
					require.NoError(t, err)
					require.True(t, img.Reduced())
					require.Equal(t, image.Pt(h.Width, h.Height), img.Full)
					c := r.Intersect(image.Rect(0, 0, h.Width, h.Height))
					f := sc.Factor()
					sx0, sy0 := int(float64(c.Min.X)*f), int(float64(c.Min.Y)*f)
					sx1, sy1 := min(int(math.Ceil(float64(c.Max.X)*f)), sc.of(W)), min(int(math.Ceil(float64(c.Max.Y)*f)), sc.of(H))
					want := djpegArgs(t, data, "-scale", fmt.Sprintf("%d/%d", sc.Num, sc.Denom), "-crop", fmt.Sprintf("%dx%d+%d+%d", sx1-sx0, sy1-sy0, sx0, sy0))
					requireClose(t, want, img.NRGBA, 0)
					// The decoded rectangle covers the region.
					x0, y0 := img.ToFull(0, 0)
					x1, y1 := img.ToFull(float32(img.Rect.Dx()), float32(img.Rect.Dy()))
					require.LessOrEqual(t, x0, float32(c.Min.X))
					require.LessOrEqual(t, y0, float32(c.Min.Y))
					require.GreaterOrEqual(t, x1, float32(c.Max.X))
					require.GreaterOrEqual(t, y1, float32(c.Max.Y))
				})
			}
		}
	}
}

// TestDecodeRegionWidestIMCU: a 4:1:1 file (32-pixel iMCUs, 64 at scale
// 2) cut one pixel short of an iMCU boundary moves the left edge furthest;
// the region still decodes, exactly as djpeg -crop writes it.
func TestDecodeRegionWidestIMCU(t *testing.T) {
	t.Parallel()
	if JPEGDecoder != "libjpeg-turbo" {
		t.Skip("image/jpeg decodes whole only")
	}
	ppm := tool(t, readFile(t, "ddfa_jianzhuguo.jpg"), "djpeg", "-pnm")
	data := tool(t, ppm, "cjpeg", "-quality", "92", "-sample", "4x1")
	h, err := DecodeHeader(data, DefaultLimits())
	require.NoError(t, err)
	r := image.Rect(5*32-1, h.Height/3, 200, h.Height/2)
	for _, sc := range []Scale{{1, 1}, {2, 1}, {15, 8}} {
		t.Run(fmt.Sprintf("%d_%d", sc.Num, sc.Denom), func(t *testing.T) {
			t.Parallel()
			img, err := DecodeRequest(data, DefaultLimits(), Request{Scale: sc, Region: r})
			require.NoError(t, err)
			f := sc.Factor()
			sx0, sy0 := int(float64(r.Min.X)*f), int(float64(r.Min.Y)*f)
			sx1, sy1 := int(math.Ceil(float64(r.Max.X)*f)), int(math.Ceil(float64(r.Max.Y)*f))
			want := djpegArgs(t, data, "-scale", fmt.Sprintf("%d/%d", sc.Num, sc.Denom), "-crop", fmt.Sprintf("%dx%d+%d+%d", sx1-sx0, sy1-sy0, sx0, sy0))
			requireClose(t, want, img.NRGBA, 0)
			x0, _ := img.ToFull(0, 0)
			require.LessOrEqual(t, x0, float32(r.Min.X))
		})
	}
}

// TestDecodeRegionMapsToWhole checks ToFull under every EXIF orientation:
// each pixel of a region decode at least one MCU (at scale) away from a cut
// edge equals, exactly, the pixel of the whole decode at the same scale that
// ToFull puts at the same place; nearer a cut, chroma upsampling may differ
// by a few levels.
func TestDecodeRegionMapsToWhole(t *testing.T) {
	t.Parallel()
	if JPEGDecoder != "libjpeg-turbo" {
		t.Skip("image/jpeg decodes whole only")
	}
	photo := readFile(t, "ddfa_jianzhuguo.jpg")
	for o := 1; o <= 8; o++ {
		data := withJPEGExif(photo, tiffOrientation(binary.BigEndian, uint16(o)))
		for _, sc := range []Scale{{1, 1}, {3, 4}, {1, 2}, {3, 8}} {
			t.Run(fmt.Sprintf("o%d-%d_%d", o, sc.Num, sc.Denom), func(t *testing.T) {
				t.Parallel()
				whole, err := DecodeRequest(data, DefaultLimits(), Request{Scale: sc})
				require.NoError(t, err)
				require.Equal(t, o, whole.Orientation)
				s := sc.Factor()
				r := image.Rect(45, 70, 260, 330)
				if o >= 5 {
					r = image.Rect(70, 45, 330, 260)
				}
				reg, err := DecodeRequest(data, DefaultLimits(), Request{Scale: sc, Region: r})
				require.NoError(t, err)
				require.Equal(t, whole.Full, reg.Full)
				dx := (reg.Origin[0] - whole.Origin[0]) * s
				dy := (reg.Origin[1] - whole.Origin[1]) * s
				require.InDelta(t, float64(int(dx+0.5)), dx, 1e-9, "region offset in whole-decode pixels")
				require.InDelta(t, float64(int(dy+0.5)), dy, 1e-9)
				ox, oy := int(dx+0.5), int(dy+0.5)
				m := int(16*s + 0.999) // one MCU at scale
				// The cut edges are those not on the picture's own edge.
				wb := whole.Rect
				compared, worstNear := 0, 0
				for y := 0; y < reg.Rect.Dy(); y++ {
					for x := 0; x < reg.Rect.Dx(); x++ {
						wx, wy := x+ox, y+oy
						require.True(t, image.Pt(wx, wy).In(wb), "pixel (%d,%d) maps outside the whole decode to (%d,%d)", x, y, wx, wy)
						near := (x < m && wx >= m) || (y < m && wy >= m) ||
							(x >= reg.Rect.Dx()-m && wx < wb.Dx()-m) || (y >= reg.Rect.Dy()-m && wy < wb.Dy()-m)
						a, b := reg.NRGBAAt(x, y), whole.NRGBAAt(wx, wy)
						if near {
							worstNear = max(worstNear, absDiff(a.R, b.R), absDiff(a.G, b.G), absDiff(a.B, b.B))
							continue
						}
						require.Equal(t, b, a, "pixel (%d,%d) of the region, (%d,%d) of the whole", x, y, wx, wy)
						compared++
					}
				}
				require.Greater(t, compared, reg.Rect.Dx()*reg.Rect.Dy()/2)
				t.Logf("orientation %d scale %d/%d: %d interior pixels identical, worst difference within an MCU of a cut %d", o, sc.Num, sc.Denom, compared, worstNear)
			})
		}
	}
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// TestDecodeRequestOtherFormats: PNG and WebP have no DCT scaling or
// lossless crop; a request returns the whole picture, saying so.
func TestDecodeRequestOtherFormats(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"video-001.cmyk.png", "video-001.lossy.webp", "video-001.cmyk.jpeg"} {
		img, err := DecodeRequest(readFile(t, f), DefaultLimits(), Request{Scale: Scale{1, 2}, Region: image.Rect(10, 10, 50, 50)})
		require.NoError(t, err, f)
		require.False(t, img.Reduced(), f)
		require.Equal(t, Scale{1, 1}, img.Scale)
		require.Equal(t, img.Rect.Size(), img.Full)
	}
	h, err := DecodeHeader(readFile(t, "video-001.lossy.webp"), DefaultLimits())
	require.NoError(t, err)
	require.Equal(t, Header{Format: FormatWebP, Width: 150, Height: 103, Orientation: 1}, h)
	_, err = DecodeHeader(pngWithSize(t, 20000, 20000), DefaultLimits())
	requireCode(t, err, CodeTooLarge)
}
