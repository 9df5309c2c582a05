//go:build !cgo || purewebp

package imageenc

import (
	"fmt"
	"image"
	"io"
)

// webpAvailable: a build without cgo, or with -tags purewebp (as
// imagedecode's decoder), has no WebP encoder (Go's x/image only decodes
// WebP).
const webpAvailable = false

// WebP returns ErrUnsupported: this build has no libwebp.
func WebP(io.Writer, *image.NRGBA, WebPOptions) error {
	return fmt.Errorf("%w: webp needs libwebp (a cgo build without -tags purewebp)", ErrUnsupported)
}
