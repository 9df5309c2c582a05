//go:build cgo && !purejpeg

package imageenc

/*
#cgo LDFLAGS: -lturbojpeg
#include <turbojpeg.h>
*/
import "C"

import (
	"fmt"
	"image"
	"io"
	"unsafe"
)

// JPEGEncoder names the JPEG implementation compiled in.
const JPEGEncoder = "libjpeg-turbo"

// JPEG writes img's colour (its alpha ignored) as a baseline 4:2:0 JPEG of
// quality 1..100 with libjpeg-turbo's TurboJPEG API (accurate integer DCT).
func JPEG(w io.Writer, img *image.NRGBA, quality int) error {
	if img == nil || img.Rect.Empty() {
		return ErrEmpty
	}
	handle := C.tjInitCompress()
	if handle == nil {
		return fmt.Errorf("libjpeg-turbo: %s", C.GoString(C.tjGetErrorStr()))
	}
	defer C.tjDestroy(handle)
	var out *C.uchar
	var size C.ulong
	// The source is Go memory read only during the call, without Go
	// pointers in it (cgo's rules allow it).
	if C.tjCompress2(handle, (*C.uchar)(unsafe.Pointer(&img.Pix[0])), C.int(img.Rect.Dx()), C.int(img.Stride),
		C.int(img.Rect.Dy()), C.TJPF_RGBX, &out, &size, C.TJSAMP_420, C.int(quality), C.TJFLAG_ACCURATEDCT) != 0 {
		if out != nil {
			C.tjFree(out)
		}
		return fmt.Errorf("libjpeg-turbo: %s", C.GoString(C.tjGetErrorStr2(handle)))
	}
	defer C.tjFree(out)
	_, err := w.Write(unsafe.Slice((*byte)(unsafe.Pointer(out)), int(size)))
	return err
}
