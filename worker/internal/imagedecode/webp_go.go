//go:build !cgo || purewebp

package imagedecode

import (
	"bytes"
	"image"

	"golang.org/x/image/webp"
)

// WebPDecoder names the WebP implementation compiled in.
const WebPDecoder = "golang.org/x/image/webp"

// decodeWebP is the pure-Go fallback (CGO_ENABLED=0 or -tags purewebp):
// colours differ from libwebp's and browsers' (see webp_cgo.go).
func decodeWebP(data []byte, _, _ int) (image.Image, error) {
	return webp.Decode(bytes.NewReader(data))
}
