//go:build cgo && !purejpeg

package imagedecode

/*
#cgo LDFLAGS: -lturbojpeg
#include <stdlib.h>
#include <turbojpeg.h>
*/
import "C"

import (
	"fmt"
	"image"
	"unsafe"
)

// JPEGDecoder names the JPEG implementation compiled in.
const JPEGDecoder = "libjpeg-turbo"

// decodeJPEG decodes baseline and progressive JPEG with libjpeg-turbo's
// TurboJPEG API straight into NRGBA (alpha 255), with the library's
// defaults: accurate integer IDCT and "fancy" (triangle-filtered) chroma
// upsampling — the decoder and settings browsers use, so the pixels match
// what MediaPipe's own web solution sees (Go's image/jpeg upsamples chroma
// by replication and differs by several levels at colour edges, which moves
// landmarks on turned faces by up to 1 % of the inter-ocular distance).
// Greyscale and CMYK JPEGs come out as RGB too.
func decodeJPEG(data []byte, w, h int) (*image.NRGBA, error) {
	handle := C.tjInitDecompress()
	if handle == nil {
		return nil, fmt.Errorf("libjpeg-turbo: %s", C.GoString(C.tjGetErrorStr()))
	}
	defer C.tjDestroy(handle)
	src := (*C.uchar)(C.CBytes(data))
	defer C.free(unsafe.Pointer(src))
	var cw, ch, sub, cs C.int
	if C.tjDecompressHeader3(handle, src, C.ulong(len(data)), &cw, &ch, &sub, &cs) != 0 {
		return nil, fmt.Errorf("libjpeg-turbo: %s", C.GoString(C.tjGetErrorStr2(handle)))
	}
	if cs == C.TJCS_CMYK || cs == C.TJCS_YCCK {
		// TurboJPEG has no CMYK → RGB conversion; image/jpeg has.
		return decodeJPEGStd(data)
	}
	if int(cw) != w || int(ch) != h {
		return nil, fmt.Errorf("libjpeg-turbo header says %dx%d, image/jpeg %dx%d", cw, ch, w, h)
	}
	dst := newNRGBA(w, h)
	// The destination is Go memory written only during the call, which
	// cgo's pointer rules allow (it holds no Go pointers).
	if C.tjDecompress2(handle, src, C.ulong(len(data)), (*C.uchar)(unsafe.Pointer(&dst.Pix[0])),
		C.int(w), C.int(dst.Stride), C.int(h), C.TJPF_RGBA, 0) != 0 {
		// Warnings too: a truncated or corrupt file would decode to a
		// partly grey picture and wrong faces, so it is refused (as
		// image/jpeg refuses it).
		releasePix(dst)
		return nil, fmt.Errorf("libjpeg-turbo: %s", C.GoString(C.tjGetErrorStr2(handle)))
	}
	return dst, nil
}
