//go:build cgo && !purewebp

package imagedecode

/*
#cgo LDFLAGS: -lwebp
#include <webp/decode.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"unsafe"
)

// WebPDecoder names the WebP implementation compiled in.
const WebPDecoder = "libwebp"

// decodeWebP decodes a still WebP (lossy, lossless, with or without alpha)
// with libwebp straight into NRGBA: VP8's BT.601 studio-range YUV and
// "fancy" chroma upsampling, as browsers show the file (golang.org/x/image/webp,
// the fallback without cgo or with -tags purewebp, converts with JPEG's
// full-range YCbCr and replicates chroma, so its colours differ). w×h is
// the size the header checks passed; the file must decode to exactly that.
func decodeWebP(data []byte, w, h int) (image.Image, error) {
	var cw, ch C.int
	src := (*C.uint8_t)(unsafe.Pointer(&data[0]))
	if C.WebPGetInfo(src, C.size_t(len(data)), &cw, &ch) == 0 {
		return nil, errors.New("libwebp: not a decodable WebP file")
	}
	if int(cw) != w || int(ch) != h {
		return nil, fmt.Errorf("libwebp says %dx%d, the header %dx%d", cw, ch, w, h)
	}
	dst := newNRGBA(w, h)
	// Go memory written only during the call, holding no Go pointers.
	if C.WebPDecodeRGBAInto(src, C.size_t(len(data)), (*C.uint8_t)(unsafe.Pointer(&dst.Pix[0])),
		C.size_t(len(dst.Pix)), C.int(dst.Stride)) == nil {
		releasePix(dst)
		return nil, errors.New("libwebp: corrupt, truncated or unsupported (animated?) WebP")
	}
	return dst, nil
}
