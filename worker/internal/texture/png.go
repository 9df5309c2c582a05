package texture

import (
	"fmt"
	"image"
	"io"

	"github.com/facefleet/facefleet/worker/internal/pngenc"
)

// EncodePNG writes img as an 8-bit RGBA PNG with pngenc's fast parallel
// encoder (Up filter, fastest deflate, bands compressed in parallel). An
// empty image is ErrInvalidInput. New code can call pngenc.Encode directly.
func EncodePNG(w io.Writer, img *image.NRGBA) error {
	if img == nil || img.Rect.Empty() {
		return fmt.Errorf("%w: empty image", ErrInvalidInput)
	}
	return pngenc.Encode(w, img)
}
