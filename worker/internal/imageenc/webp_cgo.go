//go:build cgo && !purewebp

package imageenc

/*
#cgo LDFLAGS: -lwebp
#include <stdlib.h>
#include <webp/encode.h>

// ff_webp_encode encodes RGBA lossy with lossless alpha; on success *out
// (freed with WebPFree) holds *size bytes. It returns 0 or the
// WebPEncodingError (or -1 for a version mismatch).
static int ff_webp_encode(const uint8_t* rgba, int w, int h, int stride, float quality, int method,
                          uint8_t** out, size_t* size) {
	WebPConfig config;
	WebPPicture pic;
	WebPMemoryWriter wr;
	if (!WebPConfigInit(&config) || !WebPPictureInit(&pic)) return -1;
	config.quality = quality;
	config.method = method;
	if (!WebPValidateConfig(&config)) return VP8_ENC_ERROR_INVALID_CONFIGURATION;
	pic.use_argb = 1;
	pic.width = w;
	pic.height = h;
	if (!WebPPictureImportRGBA(&pic, rgba, stride)) {
		int err = pic.error_code;
		WebPPictureFree(&pic);
		return err ? err : VP8_ENC_ERROR_OUT_OF_MEMORY;
	}
	WebPMemoryWriterInit(&wr);
	pic.writer = WebPMemoryWrite;
	pic.custom_ptr = &wr;
	int ok = WebPEncode(&config, &pic);
	int err = pic.error_code;
	WebPPictureFree(&pic);
	if (!ok) {
		WebPMemoryWriterClear(&wr);
		return err ? err : VP8_ENC_ERROR_OUT_OF_MEMORY;
	}
	*out = wr.mem;
	*size = wr.size;
	return 0;
}
*/
import "C"

import (
	"fmt"
	"image"
	"io"
	"unsafe"
)

// webpAvailable: this build links libwebp.
const webpAvailable = true

// WebP writes img as a lossy WebP with its alpha (lossless) in the file,
// with libwebp.
func WebP(w io.Writer, img *image.NRGBA, o WebPOptions) error {
	if img == nil || img.Rect.Empty() {
		return ErrEmpty
	}
	var out *C.uint8_t
	var size C.size_t
	// Go memory read only during the call, without Go pointers in it.
	if rc := C.ff_webp_encode((*C.uint8_t)(unsafe.Pointer(&img.Pix[0])), C.int(img.Rect.Dx()), C.int(img.Rect.Dy()),
		C.int(img.Stride), C.float(o.Quality), C.int(o.Method), &out, &size); rc != 0 {
		return fmt.Errorf("libwebp: encode error %d", int(rc))
	}
	defer C.WebPFree(unsafe.Pointer(out))
	_, err := w.Write(unsafe.Slice((*byte)(unsafe.Pointer(out)), int(size)))
	return err
}
