//go:build !cgo

package imageenc

import (
	"fmt"
	"image"
	"io"
)

// decodeWebP: no libwebp in this build (the tests skip what needs it).
func decodeWebP([]byte) (*image.NRGBA, error) {
	return nil, fmt.Errorf("%w: webp needs libwebp (a cgo build)", ErrUnsupported)
}

// webpAvailable: a build without cgo has no WebP encoder (Go's x/image
// only decodes WebP).
const webpAvailable = false

// WebP returns ErrUnsupported: this build has no libwebp.
func WebP(io.Writer, *image.NRGBA, WebPOptions) error {
	return fmt.Errorf("%w: webp needs libwebp (a cgo build)", ErrUnsupported)
}
