//go:build cgo && !purejpeg

package imagedecode

/*
// libturbojpeg exports only the tj* API; the region decode needs libjpeg's
// (jpeg_crop_scanline, jpeg_skip_scanlines), linked in statically from
// libjpeg62-turbo-dev's libjpeg.a so the binary needs no libjpeg.so.62.
#cgo LDFLAGS: -lturbojpeg -l:libjpeg.a
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <turbojpeg.h>
#include <jpeglib.h>

// ffErr is libjpeg's error manager made to return instead of exit: errors
// longjmp back, warnings (corrupt data that libjpeg would paper over) are
// counted, their first message kept.
struct ffErr {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
	char msg[JMSG_LENGTH_MAX];
};

static void ffErrorExit(j_common_ptr c) {
	struct ffErr *e = (struct ffErr *)c->err;
	(*c->err->format_message)(c, e->msg);
	longjmp(e->jb, 1);
}

static void ffEmit(j_common_ptr c, int level) {
	struct ffErr *e = (struct ffErr *)c->err;
	if (level < 0) {
		if (e->pub.num_warnings == 0) (*c->err->format_message)(c, e->msg);
		e->pub.num_warnings++;
	}
}

// ffDecodeRegion decodes rows [y0, y1) and columns [*x0, x1) of src scaled
// by num/denom (output pixels) as RGBA into dst, rows packed at 4·width
// bytes, with TurboJPEG's settings (accurate IDCT, fancy upsampling):
// jpeg_crop_scanline moves *x0 down to an iMCU boundary (dst must have room
// for that), jpeg_skip_scanlines passes over the rows above without IDCT,
// and decoding stops after y1 (the rows below are not read). It returns 0,
// or -1 with msg set.
static int ffDecodeRegion(const unsigned char *src, unsigned long n, int num, int denom,
		int *x0, int x1, int y0, int y1, unsigned char *dst, size_t cap, char *msg) {
	struct jpeg_decompress_struct d;
	struct ffErr e;
	memset(&d, 0, sizeof d);
	d.err = jpeg_std_error(&e.pub);
	e.pub.error_exit = ffErrorExit;
	e.pub.emit_message = ffEmit;
	e.msg[0] = 0;
	if (setjmp(e.jb)) {
		jpeg_destroy_decompress(&d);
		strncpy(msg, e.msg, JMSG_LENGTH_MAX - 1);
		return -1;
	}
	jpeg_create_decompress(&d);
	jpeg_mem_src(&d, src, n);
	jpeg_read_header(&d, TRUE);
	d.scale_num = num;
	d.scale_denom = denom;
	d.out_color_space = JCS_EXT_RGBA;
	d.dct_method = JDCT_ISLOW;
	d.do_fancy_upsampling = TRUE;
	jpeg_start_decompress(&d);
	if (x1 > (int)d.output_width) x1 = d.output_width;
	if (y1 > (int)d.output_height) y1 = d.output_height;
	if (*x0 < 0 || y0 < 0 || *x0 >= x1 || y0 >= y1) {
		jpeg_destroy_decompress(&d);
		snprintf(msg, JMSG_LENGTH_MAX, "empty region");
		return -1;
	}
	JDIMENSION xoff = *x0, width = x1 - *x0;
	jpeg_crop_scanline(&d, &xoff, &width);
	size_t pitch = (size_t)width * 4;
	if (pitch * (size_t)(y1 - y0) > cap) {
		jpeg_destroy_decompress(&d);
		snprintf(msg, JMSG_LENGTH_MAX, "region %ux%d does not fit", width, y1 - y0);
		return -1;
	}
	if (y0 > 0 && jpeg_skip_scanlines(&d, y0) != (JDIMENSION)y0) {
		jpeg_destroy_decompress(&d);
		snprintf(msg, JMSG_LENGTH_MAX, "could not skip to row %d", y0);
		return -1;
	}
	while ((int)d.output_scanline < y1) {
		JSAMPROW row = dst + pitch * (d.output_scanline - y0);
		if (jpeg_read_scanlines(&d, &row, 1) != 1) {
			e.pub.num_warnings++;
			snprintf(e.msg, JMSG_LENGTH_MAX, "no data at row %u", d.output_scanline);
			break;
		}
	}
	int warned = e.pub.num_warnings > 0;
	if (warned) strncpy(msg, e.msg, JMSG_LENGTH_MAX - 1);
	jpeg_abort_decompress(&d);
	jpeg_destroy_decompress(&d);
	*x0 = xoff;
	return warned ? -1 : (int)width;
}
*/
import "C"

import (
	"fmt"
	"image"
	"math"
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
// djpeg -scale does. A non-empty crop (stored pixels, inside w×h) decodes
// only that part, as djpeg -crop does (libjpeg's jpeg_crop_scanline and
// jpeg_skip_scanlines: the rows above are entropy-decoded only, the rows
// below not read, the columns outside neither transformed nor upsampled);
// its left edge moves down to an iMCU boundary. The returned origin is the
// decoded part's top-left corner in stored full-size continuous pixels.
// CMYK/YCCK files go through image/jpeg, whole and at full size.
func decodeJPEG(data []byte, w, h int, sc Scale, crop image.Rectangle) (*image.NRGBA, Scale, [2]float64, error) {
	full := image.Rect(0, 0, w, h)
	handle := C.tjInitDecompress()
	if handle == nil {
		return nil, Scale{}, [2]float64{}, fmt.Errorf("libjpeg-turbo: %s", C.GoString(C.tjGetErrorStr()))
	}
	defer C.tjDestroy(handle)
	src := (*C.uchar)(C.CBytes(data))
	defer C.free(unsafe.Pointer(src))
	srcLen := C.ulong(len(data))
	var cw, ch, sub, cs C.int
	if C.tjDecompressHeader3(handle, src, srcLen, &cw, &ch, &sub, &cs) != 0 {
		return nil, Scale{}, [2]float64{}, fmt.Errorf("libjpeg-turbo: %s", C.GoString(C.tjGetErrorStr2(handle)))
	}
	if cs == C.TJCS_CMYK || cs == C.TJCS_YCCK {
		// TurboJPEG has no CMYK → RGB conversion; image/jpeg has.
		img, err := decodeJPEGStd(data)
		return img, Scale{1, 1}, [2]float64{}, err
	}
	if int(cw) != w || int(ch) != h {
		return nil, Scale{}, [2]float64{}, fmt.Errorf("libjpeg-turbo header says %dx%d, image/jpeg %dx%d", cw, ch, w, h)
	}
	if !sc.supported() {
		sc = Scale{1, 1}
	}
	if crop = crop.Intersect(full); !crop.Empty() && crop != full {
		return decodeJPEGRegion(src, srcLen, w, h, sc, crop)
	}
	dw, dh := sc.of(w), sc.of(h)
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
		return nil, Scale{}, [2]float64{}, fmt.Errorf("libjpeg-turbo: %s", C.GoString(C.tjGetErrorStr2(handle)))
	}
	return dst, sc, [2]float64{}, nil
}

// maxCropAlign bounds how far jpeg_crop_scanline moves the left edge: one
// iMCU, at most 8 DCT samples × 4 (h4 subsampling: 4:1:1, JPEG's largest
// sampling factor) × the largest scale (2).
const maxCropAlign = 64

// decodeJPEGRegion is decodeJPEG's crop (stored full-size pixels) at sc.
func decodeJPEGRegion(src *C.uchar, n C.ulong, w, h int, sc Scale, crop image.Rectangle) (*image.NRGBA, Scale, [2]float64, error) {
	f := sc.Factor()
	// The region in scaled output pixels, outward.
	x0, y0 := int(float64(crop.Min.X)*f), int(float64(crop.Min.Y)*f)
	x1, y1 := min(int(math.Ceil(float64(crop.Max.X)*f)), sc.of(w)), min(int(math.Ceil(float64(crop.Max.Y)*f)), sc.of(h))
	rows := y1 - y0
	dst := newNRGBA(min(x1-x0+maxCropAlign, sc.of(w)), rows)
	var msg [C.JMSG_LENGTH_MAX]C.char
	cx0 := C.int(x0)
	got := C.ffDecodeRegion(src, n, C.int(sc.Num), C.int(sc.Denom), &cx0, C.int(x1), C.int(y0), C.int(y1),
		(*C.uchar)(unsafe.Pointer(&dst.Pix[0])), C.size_t(len(dst.Pix)), &msg[0])
	if got < 0 {
		releasePix(dst)
		return nil, Scale{}, [2]float64{}, fmt.Errorf("libjpeg-turbo: %s", C.GoString(&msg[0]))
	}
	dw := int(got)
	dst.Pix, dst.Stride, dst.Rect = dst.Pix[:4*dw*rows], 4*dw, image.Rect(0, 0, dw, rows)
	return dst, sc, [2]float64{float64(cx0) / f, float64(y0) / f}, nil
}
