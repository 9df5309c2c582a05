// Package imagedecode turns untrusted image bytes into an 8-bit
// non-premultiplied *image.NRGBA with its EXIF orientation applied.
//
// JPEG goes through libjpeg-turbo (cgo, the decoder browsers and so
// MediaPipe's web solution use) unless built with CGO_ENABLED=0 or
// -tags purejpeg, which fall back to image/jpeg; [JPEGDecoder] says which.
// WebP likewise goes through libwebp (browsers' colours; 1.7-2.3× faster
// than golang.org/x/image/webp on 12 MP, BenchmarkDecode12MP) unless built
// with CGO_ENABLED=0 or -tags purewebp; [WebPDecoder] says which. JPEG can
// also be decoded smaller and in part ([DecodeRequest]: DCT-domain scaling,
// a region read without transforming the rest).
//
// The format is sniffed from magic bytes (never from a file name). JPEG, PNG
// and WebP are decoded; GIF, BMP, TIFF, HEIF/AVIF and friends are refused as
// unsupported. Size limits are enforced on the byte count and, before any
// pixel is decoded, on the dimensions read from the header, so a tiny file
// claiming a huge canvas (a decompression bomb) fails fast. Every error is an
// [*Error] that matches [ErrBadImage].
package imagedecode

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"

	"github.com/facefleet/facefleet/shared/job"
)

// Limits bounds what Decode accepts. Zero fields mean "use the default".
type Limits struct {
	MaxBytes     int64 // encoded size; default 32 MiB
	MaxPixels    int64 // width × height; default 50 000 000
	MaxDimension int   // width and height each; default 16384
}

// Default limits (see ARCHITECTURE.md: FACEFLEET_MAX_IMAGE_BYTES, FACEFLEET_MAX_IMAGE_PIXELS).
const (
	DefaultMaxBytes     = job.DefaultMaxImageBytes
	DefaultMaxPixels    = 50_000_000
	DefaultMaxDimension = 16384
)

// DefaultLimits returns 32 MiB, 50 MP, 16384 px.
func DefaultLimits() Limits {
	return Limits{MaxBytes: DefaultMaxBytes, MaxPixels: DefaultMaxPixels, MaxDimension: DefaultMaxDimension}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxPixels <= 0 {
		l.MaxPixels = d.MaxPixels
	}
	if l.MaxDimension <= 0 {
		l.MaxDimension = d.MaxDimension
	}
	return l
}

// Image is a decoded picture, upright (orientation applied), origin at (0,0).
type Image struct {
	*image.NRGBA
	// Format is the sniffed container: "jpeg", "png" or "webp".
	Format string
	// Orientation is the EXIF orientation (1..8) that was found and applied; 1 when none.
	Orientation int
	// Full is the upright size of the whole picture, which this image is
	// all of at full size unless a Request asked for less (see Reduced).
	Full image.Point
	// Scale is the factor the pixels were decoded at (1 unless requested).
	Scale Scale
	// Origin is where this image's (0, 0) corner lies in the whole upright
	// picture's continuous pixel coordinates (0, 0 unless a Region was
	// decoded); see ToFull.
	Origin [2]float64
}

// Format names returned by Sniff.
const (
	FormatJPEG = "jpeg"
	FormatPNG  = "png"
	FormatWebP = "webp"
)

// Sniff names the format of data from its magic bytes: "jpeg", "png",
// "webp" (decodable), "gif", "bmp", "tiff", "heif", "avif", "jxl", "ico"
// (recognised, unsupported) or "" (unknown).
func Sniff(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}):
		return FormatJPEG
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return FormatPNG
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return FormatWebP
	case bytes.HasPrefix(data, []byte("GIF87a")), bytes.HasPrefix(data, []byte("GIF89a")):
		return "gif"
	case bytes.HasPrefix(data, []byte("BM")) && len(data) >= 14:
		return "bmp"
	case bytes.HasPrefix(data, []byte("II*\x00")), bytes.HasPrefix(data, []byte("MM\x00*")):
		return "tiff"
	case len(data) >= 12 && string(data[4:8]) == "ftyp":
		switch string(data[8:12]) {
		case "avif", "avis":
			return "avif"
		}
		return "heif"
	case bytes.HasPrefix(data, []byte{0xFF, 0x0A}), bytes.HasPrefix(data, []byte("\x00\x00\x00\x0cJXL ")):
		return "jxl"
	case bytes.HasPrefix(data, []byte{0, 0, 1, 0}):
		return "ico"
	}
	return ""
}

// Decode decodes data under lim (zero fields take defaults). It checks the
// byte count, sniffs the format, reads only the header to check dimensions,
// then decodes, converts to NRGBA (without copying when the decoder already
// produced NRGBA) and applies the EXIF orientation.
func Decode(data []byte, lim Limits) (*Image, error) { return DecodeRequest(data, lim, Request{}) }

// probed is what probe learnt before any pixel is decoded.
type probed struct {
	format      string
	cfg         image.Config // stored (file) dimensions
	orientation int
}

// probe checks the byte count, the format and the header's dimensions.
func probe(data []byte, lim Limits) (probed, error) {
	if len(data) == 0 {
		return probed{}, newError(CodeEmpty, nil, "no image bytes")
	}
	if int64(len(data)) > lim.MaxBytes {
		return probed{}, newError(CodeTooLarge, nil, "%d bytes exceeds the limit of %d", len(data), lim.MaxBytes)
	}
	format := Sniff(data)
	var decodeConfig func(io.Reader) (image.Config, error)
	switch format {
	case FormatJPEG:
		decodeConfig = jpeg.DecodeConfig
	case FormatPNG:
		decodeConfig = png.DecodeConfig
	case FormatWebP:
		decodeConfig = webp.DecodeConfig
	case "":
		return probed{}, newError(CodeUndecodable, nil, "unrecognised image format")
	default:
		return probed{}, newError(CodeUnsupportedFormat, nil, "%s images are not supported (use JPEG, PNG or WebP)", format)
	}
	cfg, err := decodeConfig(bytes.NewReader(data))
	if err != nil {
		return probed{}, newError(CodeUndecodable, err, "reading %s header", format)
	}
	if err := checkSize(cfg.Width, cfg.Height, lim); err != nil {
		return probed{}, err
	}
	if format == FormatWebP {
		if w, h, ok := webpBitstreamSize(data); ok {
			if err := checkSize(w, h, lim); err != nil {
				return probed{}, err
			}
		}
	}
	return probed{format: format, cfg: cfg, orientation: orientationOf(format, data)}, nil
}

// DecodeRequest is Decode of the part and scale r asks for (JPEG only;
// other formats, and CMYK JPEGs, come back whole at full size). The limits
// apply to the whole picture's header, whatever is asked. The returned
// Image says what it holds (Scale, Origin, Full; ToFull maps its pixels).
func DecodeRequest(data []byte, lim Limits, r Request) (*Image, error) {
	d, err := probe(data, lim.withDefaults())
	if err != nil {
		return nil, err
	}
	sw, sh := d.cfg.Width, d.cfg.Height
	full := image.Pt(sw, sh)
	if d.orientation >= 5 {
		full = image.Pt(sh, sw)
	}
	var (
		src     image.Image
		sc      = Scale{1, 1}
		origin  [2]float64 // of the decoded part, stored full-size pixels
		cropped bool
	)
	switch d.format {
	case FormatJPEG:
		var crop image.Rectangle
		if !r.Region.Empty() {
			crop = toStored(r.Region, d.orientation, full.X, full.Y)
		}
		var n *image.NRGBA
		n, sc, origin, err = decodeJPEG(data, sw, sh, r.Scale, crop)
		src, cropped = n, err == nil && (n.Rect.Dx() != sc.of(sw) || n.Rect.Dy() != sc.of(sh))
	case FormatPNG:
		src, err = decodePNG(data, sw, sh)
	case FormatWebP:
		src, err = decodeWebP(data, sw, sh)
	}
	if err != nil {
		return nil, newError(CodeUndecodable, err, "decoding %s", d.format)
	}
	b := src.Bounds()
	if dx, dy := sc.of(sw), sc.of(sh); !cropped && (b.Dx() != dx || b.Dy() != dy) { // header and body must agree
		return nil, newError(CodeUndecodable, nil, "%s header says %dx%d, pixels are %dx%d", d.format, dx, dy, b.Dx(), b.Dy())
	}
	upright := toNRGBA(src)
	if o := orient(upright, d.orientation); o != upright {
		releasePix(upright)
		upright = o
	}
	k := 1 / sc.Factor()
	at := uprightOrigin(origin[0], origin[1], float64(b.Dx())*k, float64(b.Dy())*k, d.orientation, sw, sh)
	return &Image{NRGBA: upright, Format: d.format, Orientation: d.orientation, Full: full, Scale: sc, Origin: at}, nil
}

func checkSize(w, h int, lim Limits) error {
	switch {
	case w <= 0 || h <= 0:
		return newError(CodeEmpty, nil, "image is %dx%d", w, h)
	case w > lim.MaxDimension || h > lim.MaxDimension:
		return newError(CodeTooLarge, nil, "%dx%d exceeds the %d px dimension limit", w, h, lim.MaxDimension)
	case int64(w)*int64(h) > lim.MaxPixels:
		return newError(CodeTooLarge, nil, "%dx%d = %d pixels exceeds the limit of %d", w, h, int64(w)*int64(h), lim.MaxPixels)
	}
	return nil
}
