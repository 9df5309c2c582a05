//go:build !cgo || purejpeg

package imageenc

import (
	"image"
	"image/jpeg"
	"io"
)

// JPEGEncoder names the JPEG implementation compiled in.
const JPEGEncoder = "image/jpeg"

// JPEG writes img's colour (its alpha ignored) as a baseline 4:2:0 JPEG of
// quality 1..100 with Go's image/jpeg: the pure-Go build's encoder.
func JPEG(w io.Writer, img *image.NRGBA, quality int) error {
	if img == nil || img.Rect.Empty() {
		return ErrEmpty
	}
	// image/jpeg's *image.RGBA path reads R, G, B and never A, so the
	// NRGBA pixels viewed as RGBA give their stored colour, alpha ignored.
	rgb := &image.RGBA{Pix: img.Pix, Stride: img.Stride, Rect: img.Rect}
	return jpeg.Encode(w, rgb, &jpeg.Options{Quality: quality})
}
