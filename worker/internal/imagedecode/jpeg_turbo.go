//go:build cgo && !purejpeg

package imagedecode

/*
#cgo LDFLAGS: -lturbojpeg
#include <stdlib.h>
#include <turbojpeg.h>

// The MCU tables are static arrays in turbojpeg.h, out of cgo's reach.
static int mcuWidth(int subsamp) { return subsamp >= 0 && subsamp < TJ_NUMSAMP ? tjMCUWidth[subsamp] : 0; }
static int mcuHeight(int subsamp) { return subsamp >= 0 && subsamp < TJ_NUMSAMP ? tjMCUHeight[subsamp] : 0; }

// cropJPEG losslessly crops src to the MCU-aligned rectangle (x, y, w, h)
// with TJXOPT_CROP (no markers copied); *dst is tjAlloc'd, free it with tjFree.
static int cropJPEG(tjhandle h, const unsigned char *src, unsigned long n, int x, int y, int w, int hh,
		unsigned char **dst, unsigned long *dstSize) {
	tjtransform t = {0};
	t.r.x = x; t.r.y = y; t.r.w = w; t.r.h = hh;
	t.op = TJXOP_NONE;
	t.options = TJXOPT_CROP | TJXOPT_COPYNONE;
	*dst = NULL;
	*dstSize = 0;
	return tjTransform(h, src, n, 1, dst, dstSize, &t, 0);
}
*/
import "C"

import (
	"fmt"
	"image"
	"sync"
	"unsafe"
)

// JPEGDecoder names the JPEG implementation compiled in.
const JPEGDecoder = "libjpeg-turbo"

var jpegScales = sync.OnceValue(func() []Scale {
	var n C.int
	sf := C.tjGetScalingFactors(&n)
	if sf == nil || n <= 0 {
		return []Scale{{1, 1}}
	}
	out := make([]Scale, 0, int(n))
	for _, f := range unsafe.Slice(sf, int(n)) {
		out = append(out, Scale{Num: int(f.num), Denom: int(f.denom)})
	}
	return sortScales(out)
})

// decodeJPEG decodes baseline and progressive JPEG with libjpeg-turbo's
// TurboJPEG API straight into NRGBA (alpha 255), with the library's
// defaults: accurate integer IDCT and "fancy" (triangle-filtered) chroma
// upsampling — the decoder and settings browsers use, so the pixels match
// what MediaPipe's own web solution sees (Go's image/jpeg upsamples chroma
// by replication and differs by several levels at colour edges, which moves
// landmarks on turned faces by up to 1 % of the inter-ocular distance).
// Greyscale and CMYK JPEGs come out as RGB too.
//
// sc (one of JPEGScales; zero = 1) scales in the DCT domain, as
// djpeg -scale does. A non-empty crop (stored pixels, inside w×h) is first
// cut out losslessly with tjTransform (TJXOPT_CROP), its origin moved down
// to an MCU boundary; the rectangle actually decoded is returned. CMYK/YCCK
// files go through image/jpeg, whole and at full size.
func decodeJPEG(data []byte, w, h int, sc Scale, crop image.Rectangle) (*image.NRGBA, Scale, image.Rectangle, error) {
	full := image.Rect(0, 0, w, h)
	crop = crop.Intersect(full)
	cropping := !crop.Empty() && crop != full
	var handle C.tjhandle
	if cropping {
		handle = C.tjInitTransform() // decompresses too
	} else {
		handle = C.tjInitDecompress()
	}
	if handle == nil {
		return nil, Scale{}, image.Rectangle{}, fmt.Errorf("libjpeg-turbo: %s", C.GoString(C.tjGetErrorStr()))
	}
	defer C.tjDestroy(handle)
	src := (*C.uchar)(C.CBytes(data))
	defer C.free(unsafe.Pointer(src))
	srcLen := C.ulong(len(data))
	var cw, ch, sub, cs C.int
	if C.tjDecompressHeader3(handle, src, srcLen, &cw, &ch, &sub, &cs) != 0 {
		return nil, Scale{}, image.Rectangle{}, fmt.Errorf("libjpeg-turbo: %s", C.GoString(C.tjGetErrorStr2(handle)))
	}
	if cs == C.TJCS_CMYK || cs == C.TJCS_YCCK {
		// TurboJPEG has no CMYK → RGB conversion; image/jpeg has.
		img, err := decodeJPEGStd(data)
		return img, Scale{1, 1}, full, err
	}
	if int(cw) != w || int(ch) != h {
		return nil, Scale{}, image.Rectangle{}, fmt.Errorf("libjpeg-turbo header says %dx%d, image/jpeg %dx%d", cw, ch, w, h)
	}
	if !sc.supported() {
		sc = Scale{1, 1}
	}
	got := full
	if cropping {
		if mw, mh := int(C.mcuWidth(sub)), int(C.mcuHeight(sub)); mw > 0 && mh > 0 {
			got = image.Rect(crop.Min.X/mw*mw, crop.Min.Y/mh*mh, crop.Max.X, crop.Max.Y)
			var cropped *C.uchar
			var n C.ulong
			if C.cropJPEG(handle, src, srcLen, C.int(got.Min.X), C.int(got.Min.Y), C.int(got.Dx()), C.int(got.Dy()), &cropped, &n) != 0 {
				if cropped != nil {
					C.tjFree(cropped)
				}
				return nil, Scale{}, image.Rectangle{}, fmt.Errorf("libjpeg-turbo crop: %s", C.GoString(C.tjGetErrorStr2(handle)))
			}
			defer C.tjFree(cropped)
			src, srcLen = cropped, n
		}
	}
	dw, dh := sc.of(got.Dx()), sc.of(got.Dy())
	dst := newNRGBA(dw, dh)
	// tjDecompress2 picks the largest scaling factor whose output fits
	// dw×dh, which is sc itself. The destination is Go memory written only
	// during the call, which cgo's pointer rules allow (it holds no Go
	// pointers).
	if C.tjDecompress2(handle, src, srcLen, (*C.uchar)(unsafe.Pointer(&dst.Pix[0])),
		C.int(dw), C.int(dst.Stride), C.int(dh), C.TJPF_RGBA, 0) != 0 {
		// Warnings too: a truncated or corrupt file would decode to a
		// partly grey picture and wrong faces, so it is refused (as
		// image/jpeg refuses it).
		releasePix(dst)
		return nil, Scale{}, image.Rectangle{}, fmt.Errorf("libjpeg-turbo: %s", C.GoString(C.tjGetErrorStr2(handle)))
	}
	return dst, sc, got, nil
}
