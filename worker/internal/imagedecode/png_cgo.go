//go:build cgo && !purepng

package imagedecode

/*
#cgo LDFLAGS: -lpng16
#include <stdlib.h>
#include <string.h>
#include <png.h>

// decode reads a PNG from memory into rgba (width*4 bytes a row) with
// libpng's simplified API. It returns 0 on success, else copies libpng's
// message into msg.
static int decode(const void *data, size_t size, void *rgba, int stride, int *w, int *h, char *msg, size_t msglen) {
	png_image img;
	memset(&img, 0, sizeof img);
	img.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&img, data, size)) {
		strncpy(msg, img.message, msglen - 1);
		return 1;
	}
	*w = img.width;
	*h = img.height;
	if (rgba == NULL) {
		png_image_free(&img);
		return 0;
	}
	img.format = PNG_FORMAT_RGBA;
	if (!png_image_finish_read(&img, NULL, rgba, stride, NULL)) {
		strncpy(msg, img.message, msglen - 1);
		png_image_free(&img);
		return 1;
	}
	if (img.warning_or_error & PNG_IMAGE_ERROR) {
		strncpy(msg, img.message, msglen - 1);
		return 1;
	}
	return 0;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"unsafe"
)

// PNGDecoder names the PNG implementation compiled in for plain 8-bit files.
const PNGDecoder = "libpng"

// decodePNGFast decodes a plainPNG file with libpng straight into NRGBA.
// ok is false when libpng does not take the file (its header disagrees with
// w×h), so the caller falls back to image/png.
func decodePNGFast(data []byte, w, h int) (image.Image, bool, error) {
	var msg [128]C.char
	var cw, ch C.int
	src := unsafe.Pointer(&data[0])
	if C.decode(src, C.size_t(len(data)), nil, 0, &cw, &ch, &msg[0], C.size_t(len(msg))) != 0 || int(cw) != w || int(ch) != h {
		return nil, false, nil
	}
	dst := newNRGBA(w, h)
	// Go memory written only during the call, holding no Go pointers.
	if C.decode(src, C.size_t(len(data)), unsafe.Pointer(&dst.Pix[0]), C.int(dst.Stride), &cw, &ch, &msg[0], C.size_t(len(msg))) != 0 {
		releasePix(dst)
		return nil, true, fmt.Errorf("libpng: %w", errors.New(C.GoString(&msg[0])))
	}
	return dst, true, nil
}
