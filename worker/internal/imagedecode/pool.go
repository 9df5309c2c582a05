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
// enough and not more than twice the size (a reduced decode's small
// pre-pass must not hold the big buffer its main decode then allocates
// again). Every byte is overwritten by the callers (decoders, toNRGBA,
// orient).
func newNRGBA(w, h int) *image.NRGBA {
	n := 4 * w * h
	// A few looks: the pool holds buffers of a run's few sizes (a reduced
	// decode's pre-pass and main image).
	var wrong [3]*[]byte
	defer func() {
		for _, p := range wrong {
			if p != nil {
				pixPool.Put(p) // the wrong size for this one; kept for another
			}
		}
	}()
	for i := range wrong {
		p, ok := pixPool.Get().(*[]byte)
		if !ok {
			break
		}
		if c := cap(*p); c >= n && c <= 2*n {
			return &image.NRGBA{Pix: (*p)[:n], Stride: 4 * w, Rect: image.Rect(0, 0, w, h)}
		}
		wrong[i] = p
	}
	return image.NewNRGBA(image.Rect(0, 0, w, h))
}

// MaxPooledBytes is the largest pixel buffer the pool keeps (4 MP of
// NRGBA). A larger photo's buffer goes to the garbage collector: pooled, it
// would stay alive for two collections for a size that rarely comes again,
// and two slots' peak memory grows by it (the benchmark mix at two slots:
// 308–315 MiB peak RSS pooling every size, 286–290 without the large ones).
const MaxPooledBytes = 16 << 20

func releasePix(img *image.NRGBA) {
	if img == nil || cap(img.Pix) == 0 || cap(img.Pix) > MaxPooledBytes {
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
