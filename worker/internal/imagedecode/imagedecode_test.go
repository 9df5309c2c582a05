package imagedecode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"github.com/facefleet/facefleet/shared/toolcheck"
)

// pattern fills a w×h image of any settable kind with a gradient plus
// alpha that varies over the image (when the kind has alpha).
func pattern(img interface {
	image.Image
	Set(x, y int, c color.Color)
}) {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			img.Set(x, y, color.NRGBA{R: uint8(x * 4), G: uint8(y * 4), B: uint8((x + y) * 2), A: uint8(255 - x - y)})
		}
	}
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}))
	return buf.Bytes()
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// requireClose checks every pixel of got against want (converted to NRGBA)
// within tol per channel; fully transparent pixels compare alpha only.
func requireClose(t *testing.T, want image.Image, got *image.NRGBA, tol int) {
	t.Helper()
	wb := want.Bounds()
	require.Equal(t, wb.Dx(), got.Rect.Dx())
	require.Equal(t, wb.Dy(), got.Rect.Dy())
	require.Equal(t, image.Point{}, got.Rect.Min)
	worst := 0
	for y := 0; y < wb.Dy(); y++ {
		for x := 0; x < wb.Dx(); x++ {
			w := color.NRGBAModel.Convert(want.At(wb.Min.X+x, wb.Min.Y+y)).(color.NRGBA)
			g := got.NRGBAAt(x, y)
			ch := [][2]uint8{{w.A, g.A}}
			if w.A != 0 {
				ch = append(ch, [2]uint8{w.R, g.R}, [2]uint8{w.G, g.G}, [2]uint8{w.B, g.B})
			}
			for _, c := range ch {
				d := int(c[0]) - int(c[1])
				if d < 0 {
					d = -d
				}
				worst = max(worst, d)
				if d > tol {
					require.Failf(t, "pixel mismatch", "at (%d,%d): want %v got %v (tol %d)", x, y, w, g, tol)
				}
			}
		}
	}
	t.Logf("worst channel difference %d", worst)
}

func TestDecodeKinds(t *testing.T) {
	t.Parallel()
	const w, h = 37, 23 // odd sizes exercise chroma subsampling edges
	rect := image.Rect(0, 0, w, h)
	nrgba := image.NewNRGBA(rect)
	pattern(nrgba)
	opaque := image.NewRGBA(rect)
	for i := range opaque.Pix {
		opaque.Pix[i] = nrgba.Pix[i]
		if i%4 == 3 {
			opaque.Pix[i] = 0xFF
		}
	}
	gray := image.NewGray(rect)
	pattern(gray)
	gray16 := image.NewGray16(rect)
	pattern(gray16)
	nrgba64 := image.NewNRGBA64(rect)
	pattern(nrgba64)
	rgba64 := image.NewRGBA64(rect)
	pattern(rgba64)
	pal := color.Palette{color.NRGBA{0, 0, 0, 0}, color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 0, 255, 128}, color.NRGBA{10, 200, 30, 255}}
	paletted := image.NewPaletted(rect, pal)
	for i := range paletted.Pix {
		paletted.Pix[i] = uint8(i % len(pal))
	}
	ycc := image.NewYCbCr(rect, image.YCbCrSubsampleRatio420)
	for i := range ycc.Y {
		ycc.Y[i] = uint8(i * 7)
	}
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i] = uint8(i*3), uint8(255-i*5)
	}

	for _, tc := range []struct {
		name   string
		data   []byte
		want   image.Image
		format string
		tol    int
	}{
		{"png-nrgba-alpha", encodePNG(t, nrgba), nrgba, "png", 0},
		{"png-rgb-opaque", encodePNG(t, opaque), opaque, "png", 0},
		{"png-gray", encodePNG(t, gray), gray, "png", 0},
		{"png-gray16", encodePNG(t, gray16), gray16, "png", 0},
		{"png-nrgba64", encodePNG(t, nrgba64), nrgba64, "png", 1},
		{"png-rgba64-premultiplied", encodePNG(t, rgba64), rgba64, "png", 1},
		{"png-paletted-transparent", encodePNG(t, paletted), paletted, "png", 0},
		{"jpeg-ycbcr", encodeJPEG(t, ycc), ycc, "jpeg", 24},
		{"jpeg-from-rgb", encodeJPEG(t, opaque), opaque, "jpeg", 40},
		{"jpeg-gray", encodeJPEG(t, gray), gray, "jpeg", 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			img, err := Decode(tc.data, DefaultLimits())
			require.NoError(t, err)
			require.Equal(t, tc.format, img.Format)
			require.Equal(t, 1, img.Orientation)
			if tc.format == FormatJPEG && JPEGDecoder == "libjpeg-turbo" {
				// Fancy chroma upsampling smooths this synthetic pattern's
				// per-sample chroma steps: the reference is libjpeg-turbo's
				// own command-line decoder, exactly.
				requireClose(t, djpeg(t, tc.data), img.NRGBA, 0)
				return
			}
			requireClose(t, tc.want, img.NRGBA, tc.tol)
		})
	}
}

// djpeg decodes data with libjpeg-turbo's djpeg (Debian libjpeg-turbo-progs)
// at its defaults (accurate IDCT, fancy upsampling) into a PNM.
func djpeg(t *testing.T, data []byte) image.Image {
	t.Helper()
	path, err := exec.LookPath("djpeg")
	if err != nil {
		toolcheck.Missing(t, "djpeg not found: install libjpeg-turbo-progs (make setup)")
	}
	cmd := exec.Command(path, "-pnm")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	require.NoError(t, err)
	img, err := decodePNM(out)
	require.NoError(t, err)
	return img
}

// decodePNM reads a binary P5 (grey) or P6 (RGB) 8-bit PNM.
func decodePNM(b []byte) (image.Image, error) {
	space := func(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }
	var tok []string
	i := 0
	for len(tok) < 4 && i < len(b) {
		for i < len(b) && space(b[i]) {
			i++
		}
		st := i
		for i < len(b) && !space(b[i]) {
			i++
		}
		tok = append(tok, string(b[st:i]))
	}
	i++ // the single whitespace after maxval
	var w, h, maxv int
	if len(tok) != 4 || i > len(b) {
		return nil, fmt.Errorf("short PNM header")
	}
	magic := tok[0]
	if _, err := fmt.Sscan(tok[1]+" "+tok[2]+" "+tok[3], &w, &h, &maxv); err != nil || maxv != 255 {
		return nil, fmt.Errorf("bad PNM header %q (%v)", tok, err)
	}
	pix := b[i:]
	switch magic {
	case "P5":
		g := image.NewGray(image.Rect(0, 0, w, h))
		copy(g.Pix, pix)
		return g, nil
	case "P6":
		img := image.NewNRGBA(image.Rect(0, 0, w, h))
		for k := 0; k < w*h; k++ {
			copy(img.Pix[4*k:], pix[3*k:3*k+3])
			img.Pix[4*k+3] = 255
		}
		return img, nil
	}
	return nil, fmt.Errorf("PNM type %s", magic)
}

// TestDecodeFixtures decodes files from the Go and x/image test suites (CMYK
// JPEG, grayscale JPEG, lossy WebP, WebP with alpha, lossless WebP) and checks
// the fast NRGBA conversion against the standard per-pixel conversion of the
// decoder's raw output; the CMYK JPEG is also checked against Go's RGB rendering.
func TestDecodeFixtures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file, rgbRef, format string
		tol                  int
	}{
		{"video-001.cmyk.jpeg", "video-001.cmyk.png", "jpeg", 3},
		{"video-005.gray.jpeg", "", "jpeg", 0},
		{"video-001.lossy.webp", "", "webp", 0},
		{"yellow_rose.lossy-with-alpha.webp", "", "webp", 0},
		{"gopher-doc.with-alpha.lossless.webp", "", "webp", 0},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			img, err := Decode(readFile(t, tc.file), DefaultLimits())
			require.NoError(t, err)
			require.Equal(t, tc.format, img.Format)
			raw, _, err := image.Decode(bytes.NewReader(readFile(t, tc.file)))
			require.NoError(t, err)
			if a, ok := raw.(*image.NYCbCrA); ok {
				// color.NRGBAModel goes through premultiplied RGBA and loses
				// precision at low alpha; the exact answer is YCbCr→RGB plus A.
				raw = exactNYCbCrA(a)
			}
			if tc.format == FormatJPEG && JPEGDecoder == "libjpeg-turbo" && tc.rgbRef == "" {
				// libjpeg-turbo's IDCT and upsampling differ from image/jpeg's
				// by a level here and there: exact against djpeg, close to Go.
				requireClose(t, djpeg(t, readFile(t, tc.file)), img.NRGBA, 0)
				requireClose(t, raw, img.NRGBA, 2)
			} else if tc.format == FormatWebP && WebPDecoder == "libwebp" {
				// libwebp converts VP8's studio-range YUV (as browsers do);
				// x/image/webp treats it as full range: exact against dwebp.
				requireClose(t, dwebp(t, readFile(t, tc.file)), img.NRGBA, 0)
			} else {
				requireClose(t, raw, img.NRGBA, 0)
			}
			if tc.rgbRef != "" {
				ref, err := png.Decode(bytes.NewReader(readFile(t, tc.rgbRef)))
				require.NoError(t, err)
				requireClose(t, ref, img.NRGBA, tc.tol)
			}
		})
	}
}

func exactNYCbCrA(src *image.NYCbCrA) *image.NRGBA {
	b := src.Bounds()
	dst := image.NewNRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := src.NYCbCrAAt(x, y)
			r, g, bl := color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
			dst.SetNRGBA(x, y, color.NRGBA{R: r, G: g, B: bl, A: c.A})
		}
	}
	return dst
}

func TestDecodeRealPhoto(t *testing.T) {
	t.Parallel()
	img, err := Decode(readFile(t, "ddfa_jianzhuguo.jpg"), DefaultLimits())
	require.NoError(t, err)
	require.Equal(t, "jpeg", img.Format)
	require.Equal(t, image.Rect(0, 0, 413, 551), img.Rect)
	require.Equal(t, 1, img.Orientation)
	// A photo is not flat: the standard deviation of green is substantial.
	var sum, sq float64
	n := float64(413 * 551)
	for i := 1; i < len(img.Pix); i += 4 {
		v := float64(img.Pix[i])
		sum += v
		sq += v * v
	}
	mean := sum / n
	require.Greater(t, sq/n-mean*mean, 100.0)
	for i := 3; i < len(img.Pix); i += 4 {
		require.Equal(t, uint8(255), img.Pix[i])
	}
}

func requireCode(t *testing.T, err error, c Code) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, ErrBadImage)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, string(c), e.Code())
	var coder interface{ Code() string }
	require.ErrorAs(t, err, &coder)
}

func TestDecodeUnsupported(t *testing.T) {
	t.Parallel()
	img := image.NewNRGBA(image.Rect(0, 0, 8, 8))
	pattern(img)
	var g, b, tf bytes.Buffer
	require.NoError(t, gif.Encode(&g, img, nil))
	require.NoError(t, bmp.Encode(&b, img))
	require.NoError(t, tiff.Encode(&tf, img, nil))
	heic := append([]byte{0, 0, 0, 0x18}, []byte("ftypheic\x00\x00\x00\x00mif1heic")...)
	for name, data := range map[string][]byte{"gif": g.Bytes(), "bmp": b.Bytes(), "tiff": tf.Bytes(), "heif": heic} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, name, Sniff(data))
			_, err := Decode(data, DefaultLimits())
			requireCode(t, err, CodeUnsupportedFormat)
		})
	}
}

func TestDecodeBadInput(t *testing.T) {
	t.Parallel()
	img := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	pattern(img)
	p, j := encodePNG(t, img), encodeJPEG(t, img)
	for _, tc := range []struct {
		name string
		data []byte
		lim  Limits
		code Code
	}{
		{"nil", nil, Limits{}, CodeEmpty},
		{"empty", []byte{}, Limits{}, CodeEmpty},
		{"garbage", []byte("hello, this is not an image at all"), Limits{}, CodeUndecodable},
		{"png-truncated", p[:len(p)/2], Limits{}, CodeUndecodable},
		{"png-header-only", p[:20], Limits{}, CodeUndecodable},
		{"jpeg-truncated-header", j[:30], Limits{}, CodeUndecodable},
		{"jpeg-truncated-body", j[:len(j)*2/3], Limits{}, CodeUndecodable}, // libjpeg-turbo only warns
		{"webp-riff-only", []byte("RIFF\x10\x00\x00\x00WEBPVP8 "), Limits{}, CodeUndecodable},
		{"too-many-bytes", p, Limits{MaxBytes: int64(len(p) - 1)}, CodeTooLarge},
		{"too-many-pixels", p, Limits{MaxPixels: 64*64 - 1}, CodeTooLarge},
		{"too-wide", p, Limits{MaxDimension: 63}, CodeTooLarge},
		{"zero-size", pngWithSize(t, 0, 10), Limits{}, CodeUndecodable}, // image/png rejects 0 in the header
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode(tc.data, tc.lim)
			requireCode(t, err, tc.code)
		})
	}
	// Limits exactly at the size pass.
	_, err := Decode(p, Limits{MaxBytes: int64(len(p)), MaxPixels: 64 * 64, MaxDimension: 64})
	require.NoError(t, err)
}

// pngWithSize returns a small, valid-looking PNG whose header claims w×h and
// whose single IDAT holds a few compressed zero rows: a decompression bomb
// when w×h is huge.
func pngWithSize(t testing.TB, w, h uint32) []byte {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	writeChunk(&buf, "IHDR", ihdr)
	writeChunk(&buf, "IDAT", []byte{0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01})
	writeChunk(&buf, "IEND", nil)
	return buf.Bytes()
}

func writeChunk(buf *bytes.Buffer, typ string, data []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	buf.Write(n[:])
	buf.WriteString(typ)
	buf.Write(data)
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	binary.BigEndian.PutUint32(n[:], crc.Sum32())
	buf.Write(n[:])
}

// TestDecodeWebPBitstreamBomb: an extended WebP whose VP8X canvas is tiny but
// whose VP8L bitstream claims 16384×16384 is refused before decoding.
func TestDecodeWebPBitstreamBomb(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	b.WriteString("RIFF\x00\x00\x00\x00WEBP")
	vp8x := make([]byte, 10) // flags, reserved, canvas 1×1 (stored minus one)
	bits := uint32(16383) | uint32(16383)<<14
	vp8l := []byte{0x2f, byte(bits), byte(bits >> 8), byte(bits >> 16), byte(bits >> 24), 0, 0, 0}
	for _, c := range []struct {
		typ  string
		data []byte
	}{{"VP8X", vp8x}, {"VP8L", vp8l}} {
		b.WriteString(c.typ)
		_ = binary.Write(&b, binary.LittleEndian, uint32(len(c.data)))
		b.Write(c.data)
	}
	data := b.Bytes()
	binary.LittleEndian.PutUint32(data[4:], uint32(len(data)-8))
	w, h, ok := webpBitstreamSize(data)
	require.True(t, ok)
	require.Equal(t, [2]int{16384, 16384}, [2]int{w, h})
	start := time.Now()
	_, err := Decode(data, DefaultLimits())
	requireCode(t, err, CodeTooLarge)
	require.Less(t, time.Since(start), 50*time.Millisecond)

	// The real fixtures report their true sizes.
	for _, f := range []string{"video-001.lossy.webp", "gopher-doc.with-alpha.lossless.webp", "yellow_rose.lossy-with-alpha.webp"} {
		img, err := Decode(readFile(t, f), DefaultLimits())
		require.NoError(t, err)
		w, h, ok := webpBitstreamSize(readFile(t, f))
		require.True(t, ok, f)
		require.Equal(t, img.Rect.Size(), image.Pt(w, h), f)
	}
}

func TestDecodeBomb(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ w, h uint32 }{{100_000, 100_000}, {10_000, 10_000}, {16384, 16384}, {1, 20_000}} {
		t.Run(fmt.Sprintf("%dx%d", tc.w, tc.h), func(t *testing.T) {
			t.Parallel()
			data := pngWithSize(t, tc.w, tc.h)
			require.Less(t, len(data), 100)
			start := time.Now()
			_, err := Decode(data, DefaultLimits())
			requireCode(t, err, CodeTooLarge)
			// Only the header was read: no allocation of the claimed canvas.
			require.Less(t, time.Since(start), 50*time.Millisecond)
		})
	}
}

// grid is a stored (pre-orientation) 2 columns × 3 rows of 16-px blocks,
// labelled a..f row by row.
var gridColors = map[byte]color.NRGBA{
	'a': {255, 0, 0, 255}, 'b': {0, 255, 0, 255}, 'c': {0, 0, 255, 255},
	'd': {255, 255, 0, 255}, 'e': {0, 255, 255, 255}, 'f': {255, 0, 255, 255},
}

const block = 16

func gridImage() *image.NRGBA {
	labels := [3][2]byte{{'a', 'b'}, {'c', 'd'}, {'e', 'f'}}
	img := image.NewNRGBA(image.Rect(0, 0, 2*block, 3*block))
	for y := 0; y < 3*block; y++ {
		for x := 0; x < 2*block; x++ {
			img.SetNRGBA(x, y, gridColors[labels[y/block][x/block]])
		}
	}
	return img
}

// displayed is the expected upright layout for each EXIF orientation, written
// out by hand from the EXIF specification (not computed by orient).
var displayed = map[int][]string{
	1: {"ab", "cd", "ef"},
	2: {"ba", "dc", "fe"},
	3: {"fe", "dc", "ba"},
	4: {"ef", "cd", "ab"},
	5: {"ace", "bdf"},
	6: {"eca", "fdb"},
	7: {"fdb", "eca"},
	8: {"bdf", "ace"},
}

func requireLayout(t *testing.T, img *image.NRGBA, rows []string, tol int) {
	t.Helper()
	require.Equal(t, len(rows[0])*block, img.Rect.Dx())
	require.Equal(t, len(rows)*block, img.Rect.Dy())
	for r, row := range rows {
		for c := range len(row) {
			got := img.NRGBAAt(c*block+block/2, r*block+block/2)
			want := gridColors[row[c]]
			for _, d := range []int{int(got.R) - int(want.R), int(got.G) - int(want.G), int(got.B) - int(want.B)} {
				require.LessOrEqual(t, max(d, -d), tol, "block (%d,%d): want %c=%v got %v", c, r, row[c], want, got)
			}
		}
	}
}

func tiffOrientation(bo binary.ByteOrder, o uint16) []byte {
	var b bytes.Buffer
	if bo == binary.LittleEndian {
		b.WriteString("II")
	} else {
		b.WriteString("MM")
	}
	v := func(x any) { _ = binary.Write(&b, bo, x) }
	v(uint16(42))
	v(uint32(8))
	v(uint16(2)) // two entries
	v(uint16(0x010F))
	v(uint16(2))
	v(uint32(4))
	v([4]byte{'a', 'c', 'm', 0}) // Make
	v(uint16(0x0112))
	v(uint16(3))
	v(uint32(1))
	v(o)
	v(uint16(0)) // Orientation
	v(uint32(0))
	return b.Bytes()
}

func withJPEGExif(j, tiff []byte) []byte {
	seg := append([]byte("Exif\x00\x00"), tiff...)
	out := append([]byte{}, j[:2]...)
	out = append(out, 0xFF, 0xE1, byte((len(seg)+2)>>8), byte(len(seg)+2))
	out = append(out, seg...)
	return append(out, j[2:]...)
}

func withPNGExif(p, tiff []byte) []byte {
	var buf bytes.Buffer
	buf.Write(p[:33]) // signature + IHDR
	writeChunk(&buf, "eXIf", tiff)
	buf.Write(p[33:])
	return buf.Bytes()
}

func TestOrientation(t *testing.T) {
	t.Parallel()
	src := gridImage()
	j, p := encodeJPEG(t, src), encodePNG(t, src)
	for o := 1; o <= 8; o++ {
		for _, bo := range []binary.ByteOrder{binary.BigEndian, binary.LittleEndian} {
			t.Run(fmt.Sprintf("%d-%s", o, bo), func(t *testing.T) {
				t.Parallel()
				tf := tiffOrientation(bo, uint16(o))
				img, err := Decode(withJPEGExif(j, tf), DefaultLimits())
				require.NoError(t, err)
				require.Equal(t, o, img.Orientation)
				requireLayout(t, img.NRGBA, displayed[o], 30)

				img, err = Decode(withPNGExif(p, tf), DefaultLimits())
				require.NoError(t, err)
				require.Equal(t, o, img.Orientation)
				requireLayout(t, img.NRGBA, displayed[o], 0)
			})
		}
	}
}

func TestExifOrientationMalformed(t *testing.T) {
	t.Parallel()
	good := tiffOrientation(binary.BigEndian, 6)
	require.Equal(t, 6, exifOrientation(good))
	bad := func(f func(b []byte) []byte) []byte { return f(append([]byte{}, good...)) }
	for name, tf := range map[string][]byte{
		"nil":           nil,
		"short":         good[:7],
		"bad-order":     bad(func(b []byte) []byte { b[0] = 'X'; return b }),
		"bad-magic":     bad(func(b []byte) []byte { b[3] = 43; return b }),
		"ifd-past-end":  bad(func(b []byte) []byte { b[7] = 200; return b }),
		"ifd-truncated": good[:20],
		"value-9":       tiffOrientation(binary.BigEndian, 9),
		"value-0":       tiffOrientation(binary.BigEndian, 0),
		"wrong-type":    bad(func(b []byte) []byte { b[10+12+3] = 7; return b }),
		"huge-count":    bad(func(b []byte) []byte { b[8], b[9] = 0xFF, 0xFF; return b[:8+2+12+5] }),
	} {
		require.Equal(t, 1, exifOrientation(tf), name)
	}
	// A malformed Exif segment never fails the decode.
	j := encodeJPEG(t, gridImage())
	img, err := Decode(withJPEGExif(j, []byte("MM\x00*garbage")), DefaultLimits())
	require.NoError(t, err)
	require.Equal(t, 1, img.Orientation)
}

func TestWebPExif(t *testing.T) {
	t.Parallel()
	tf := tiffOrientation(binary.LittleEndian, 8)
	var b bytes.Buffer
	b.WriteString("RIFF\x00\x00\x00\x00WEBP")
	for _, c := range []struct {
		typ  string
		data []byte
	}{{"VP8X", make([]byte, 10)}, {"ICCP", []byte{1, 2, 3}}, {"EXIF", append([]byte("Exif\x00\x00"), tf...)}} {
		b.WriteString(c.typ)
		_ = binary.Write(&b, binary.LittleEndian, uint32(len(c.data)))
		b.Write(c.data)
		if len(c.data)%2 == 1 {
			b.WriteByte(0)
		}
	}
	require.Equal(t, 8, orientationOf("webp", b.Bytes()))
}

// TestReleaseReuse decodes into recycled buffers and checks that the result
// equals a decode into fresh memory (every byte of a reused buffer rewritten).
func TestReleaseReuse(t *testing.T) {
	// Not parallel: it reasons about the package's buffer pool.
	photo := readFile(t, "ddfa_jianzhuguo.jpg")
	fresh, err := Decode(photo, DefaultLimits())
	require.NoError(t, err)
	want := append([]byte{}, fresh.Pix...)
	grid := withPNGExif(encodePNG(t, gridImage()), tiffOrientation(binary.BigEndian, 6))
	for range 3 {
		// A larger, garbage-filled buffer goes back to the pool first.
		junk := &image.NRGBA{Pix: bytes.Repeat([]byte{0xAB}, 4*500*600), Stride: 4 * 500, Rect: image.Rect(0, 0, 500, 600)}
		(&Image{NRGBA: junk}).Release()
		img, err := Decode(photo, DefaultLimits())
		require.NoError(t, err)
		require.Equal(t, want, img.Pix)
		img.Release()
		require.Nil(t, img.NRGBA)
		g, err := Decode(grid, DefaultLimits())
		require.NoError(t, err)
		requireLayout(t, g.NRGBA, displayed[6], 0)
		g.Release()
	}
	var nilImg *Image
	nilImg.Release()
}

// TestPoolSkipsOversized: a released buffer more than twice a new image's
// size is left in the pool (a 1/8 pre-pass must not take a 12 MP buffer).
func TestPoolSkipsOversized(t *testing.T) {
	// Not parallel: it reasons about the package's buffer pool.
	big := newNRGBA(1000, 1000)
	releasePix(big)
	small := newNRGBA(100, 100)
	require.Less(t, cap(small.Pix), 2*4*100*100)
	again := newNRGBA(900, 900) // within 2×: the big one is reused
	require.Len(t, again.Pix, 4*900*900)
}

// TestPoolDropsLarge: a buffer over MaxPooledBytes is not kept.
func TestPoolDropsLarge(t *testing.T) {
	// Not parallel: it reasons about the package's buffer pool.
	side := 2100 // 4·2100² > MaxPooledBytes
	require.Greater(t, 4*side*side, MaxPooledBytes)
	big := newNRGBA(side, side)
	p := &big.Pix[0]
	releasePix(big)
	again := newNRGBA(side, side)
	require.NotSame(t, p, &again.Pix[0], "a large buffer came back from the pool")
}

func TestErrorFormatting(t *testing.T) {
	t.Parallel()
	cause := errors.New("boom")
	e := newError(CodeUndecodable, cause, "decoding %s", "png")
	require.Equal(t, "image_undecodable: decoding png: boom", e.Error())
	require.ErrorIs(t, e, cause)
	require.ErrorIs(t, fmt.Errorf("job 1: %w", e), ErrBadImage)
	require.NotErrorIs(t, errors.New("other"), ErrBadImage)
}

func FuzzDecode(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	require.NoError(f, err)
	for _, e := range entries {
		// Small seeds keep each execution cheap; the synthetic seeds below
		// cover the EXIF paths the real photo would.
		if b, err := os.ReadFile(filepath.Join("testdata", e.Name())); err == nil && len(b) < 8<<10 {
			f.Add(b)
		}
	}
	small := gridImage()
	f.Add(encodePNG(f, small))
	f.Add(withJPEGExif(encodeJPEG(f, small), tiffOrientation(binary.LittleEndian, 6)))
	f.Add(withPNGExif(encodePNG(f, small), tiffOrientation(binary.BigEndian, 5)))
	f.Add(pngWithSize(f, 100_000, 100_000))
	f.Add([]byte("GIF89a"))
	lim := Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20, MaxDimension: 4096}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := Decode(data, lim)
		if err != nil {
			var e *Error
			require.ErrorAs(t, err, &e)
			require.ErrorIs(t, err, ErrBadImage)
			require.NotEmpty(t, e.Code())
			return
		}
		b := img.Rect
		require.Equal(t, image.Point{}, b.Min)
		require.LessOrEqual(t, int64(b.Dx())*int64(b.Dy()), lim.MaxPixels)
		require.Len(t, img.Pix, 4*b.Dx()*b.Dy())
		require.Contains(t, []string{"jpeg", "png", "webp"}, img.Format)
		require.True(t, img.Orientation >= 1 && img.Orientation <= 8)
		// A scaled region of what decoded whole decodes too (the libjpeg
		// crop and skip path), inside the picture.
		r := image.Rect(b.Dx()/5, b.Dy()/3, b.Dx()*3/4, b.Dy()-1)
		part, err := DecodeRequest(data, lim, Request{Scale: Scale{1, 2}, Region: r})
		if err != nil {
			require.ErrorIs(t, err, ErrBadImage)
			return
		}
		require.Len(t, part.Pix, 4*part.Rect.Dx()*part.Rect.Dy())
		x0, y0 := part.ToFull(0, 0)
		x1, y1 := part.ToFull(float32(part.Rect.Dx()), float32(part.Rect.Dy()))
		require.True(t, x0 >= -0.01 && y0 >= -0.01 && x1 <= float32(b.Dx())+2 && y1 <= float32(b.Dy())+2, "part %v..%v of %v", [2]float32{x0, y0}, [2]float32{x1, y1}, b)
	})
}

func FuzzExifOrientation(f *testing.F) {
	f.Add(tiffOrientation(binary.BigEndian, 6))
	f.Add(tiffOrientation(binary.LittleEndian, 3))
	f.Add([]byte("II*\x00\x08\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, tf []byte) {
		o := exifOrientation(tf)
		require.True(t, o >= 1 && o <= 8)
		// The container walkers must not panic on the same bytes either.
		_ = jpegExif(append([]byte{0xFF, 0xD8}, tf...))
		_ = pngExif(append([]byte("\x89PNG\r\n\x1a\n"), tf...))
		_ = webpExif(append([]byte("RIFF\x00\x00\x00\x00WEBP"), tf...))
		_, _, _ = webpBitstreamSize(append([]byte("RIFF\x00\x00\x00\x00WEBP"), tf...))
	})
}

func BenchmarkDecodeJPEGPhoto(b *testing.B) {
	data := readFile(b, "ddfa_jianzhuguo.jpg")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode(data, DefaultLimits()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkToNRGBAYCbCr(b *testing.B) {
	img, err := jpeg.Decode(bytes.NewReader(readFile(b, "ddfa_jianzhuguo.jpg")))
	require.NoError(b, err)
	for b.Loop() {
		_ = toNRGBA(img)
	}
}

func BenchmarkOrient6(b *testing.B) {
	img, err := Decode(readFile(b, "ddfa_jianzhuguo.jpg"), DefaultLimits())
	require.NoError(b, err)
	for b.Loop() {
		_ = orient(img.NRGBA, 6)
	}
}
