package imagedecode

import (
	"image"
	"sync"
)

// pixPool recycles the pixel buffers of decoded images between Decode calls
// (a 12 MP photo is 48 MB of NRGBA). Buffers come back only through
// Image.Release.
var pixPool sync.Pool // of *[]byte

// newNRGBA returns a w×h NRGBA, reusing a released buffer when one is large
// enough. Every byte is overwritten by the callers (toNRGBA, orient).
func newNRGBA(w, h int) *image.NRGBA {
	n := 4 * w * h
	if p, ok := pixPool.Get().(*[]byte); ok {
		if cap(*p) >= n {
			return &image.NRGBA{Pix: (*p)[:n], Stride: 4 * w, Rect: image.Rect(0, 0, w, h)}
		}
		pixPool.Put(p) // too small for this one; keep it for a smaller image
	}
	return image.NewNRGBA(image.Rect(0, 0, w, h))
}

func releasePix(img *image.NRGBA) {
	if img == nil || cap(img.Pix) == 0 {
		return
	}
	p := img.Pix[:0]
	pixPool.Put(&p)
}

// Release hands the pixel buffer back for reuse by later Decode calls. The
// image must not be used afterwards. Calling it is optional.
func (img *Image) Release() {
	if img == nil || img.NRGBA == nil {
		return
	}
	releasePix(img.NRGBA)
	img.NRGBA = nil
}
