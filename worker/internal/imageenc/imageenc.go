// Package imageenc writes the UV texture in the format a job asks for
// (job.Options.UVFormat; shared/job owns the names and the default):
//
//	png   uv_texture.png   lossless RGBA (pngenc)
//	jpeg  uv_texture.jpg   lossy RGB, 4:2:0, quality JPEGQuality, with the
//	                       alpha (texel filled or not) as uv_alpha.png, an
//	                       8-bit greyscale PNG
//	webp  uv_texture.webp  lossy RGB with lossless alpha in the same file,
//	                       quality WebPQuality, method WebPMethod
//
// JPEG is libjpeg-turbo's TurboJPEG (cgo), or image/jpeg in the pure-Go
// build (CGO_ENABLED=0 or -tags purejpeg, as imagedecode); WebP is libwebp
// (cgo), absent from a build without cgo or with -tags purewebp (Supported
// says so, and the pipeline refuses the option there as invalid). The defaults were chosen by
// BenchmarkUVFormats on real textures (MEASURED.md has the table).
package imageenc

import (
	"errors"
	"fmt"
	"image"
	"io"
	"slices"

	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/worker/internal/pngenc"
)

// Encoder settings chosen by BenchmarkUVFormats (see the package comment).
const (
	// JPEGQuality is libjpeg's quality (1..100) of uv_texture.jpg.
	JPEGQuality = 90
	// WebPQuality is libwebp's quality (0..100) of uv_texture.webp.
	WebPQuality = 90
	// WebPMethod is libwebp's speed/size trade-off (0 fastest .. 6 smallest).
	WebPMethod = 2
)

var (
	// ErrUnsupported is returned for a format this build cannot write
	// (WebP without cgo) or does not know.
	ErrUnsupported = errors.New("imageenc: unsupported format")
	// ErrEmpty is returned for a nil or empty image.
	ErrEmpty = errors.New("imageenc: empty image")
)

// File is how one format's texture is stored: file name and content type,
// plus the separate alpha file's when the format has no alpha.
type File struct {
	Name        string // e.g. "uv_texture.jpg"
	ContentType string // e.g. "image/jpeg"
	// AlphaName is the file of the alpha mask ("" when the texture file
	// keeps its alpha); it is always a PNG (AlphaContentType).
	AlphaName string
}

// AlphaContentType is the content type of the alpha file.
const AlphaContentType = "image/png"

// files maps job.UVFormats to their files.
var files = map[string]File{
	job.UVFormatPNG:  {Name: "uv_texture.png", ContentType: "image/png"},
	job.UVFormatJPEG: {Name: "uv_texture.jpg", ContentType: "image/jpeg", AlphaName: "uv_alpha.png"},
	job.UVFormatWebP: {Name: "uv_texture.webp", ContentType: "image/webp"},
}

// FileOf returns the file of format (a job.UVFormats value); ok is false
// for an unknown format.
func FileOf(format string) (f File, ok bool) {
	f, ok = files[format]
	return f, ok
}

// Supported reports whether this build can write format.
func Supported(format string) bool {
	_, known := files[format]
	return known && (format != job.UVFormatWebP || webpAvailable)
}

// SupportedFormats lists the job.UVFormats this build writes.
func SupportedFormats() []string {
	return slices.DeleteFunc(job.UVFormats(), func(f string) bool { return !Supported(f) })
}

// Encoder writes textures. The zero value is ready; it is safe for
// concurrent use.
type Encoder struct {
	// PNG writes the PNGs (the texture, the alpha file); nil uses
	// pngenc's shared encoder.
	PNG *pngenc.Encoder
}

func (e *Encoder) png(w io.Writer, img image.Image) error {
	if e.PNG == nil {
		return pngenc.Encode(w, img)
	}
	return e.PNG.Encode(w, img)
}

// Encode writes img in format to tex and, for a format without alpha, its
// alpha mask (Alpha) as a PNG to alpha (which may then not be nil).
func (e *Encoder) Encode(format string, tex, alpha io.Writer, img *image.NRGBA) error {
	if img == nil || img.Rect.Empty() {
		return ErrEmpty
	}
	switch format {
	case job.UVFormatPNG:
		return e.png(tex, img)
	case job.UVFormatJPEG:
		if err := JPEG(tex, img, JPEGQuality); err != nil {
			return err
		}
		return e.png(alpha, Alpha(img))
	case job.UVFormatWebP:
		return WebP(tex, img, WebPOptions{Quality: WebPQuality, Method: WebPMethod})
	}
	return fmt.Errorf("%w: %q", ErrUnsupported, format)
}

// Alpha returns img's alpha channel as a greyscale image (255 where the
// texture has colour, 0 where it is transparent).
func Alpha(img *image.NRGBA) *image.Gray {
	b := img.Rect
	g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := range b.Dy() {
		src := img.Pix[y*img.Stride:][:4*b.Dx()]
		dst := g.Pix[y*g.Stride:][:b.Dx()]
		for x := range dst {
			dst[x] = src[4*x+3]
		}
	}
	return g
}

// WebPOptions are libwebp's lossy settings.
type WebPOptions struct {
	Quality float32 // 0..100
	Method  int     // 0 (fastest) .. 6 (smallest)
}
