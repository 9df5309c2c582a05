package engine

import (
	"errors"
	"image"
	"image/draw"
	"image/jpeg"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/toolcheck"
)

// testLibrary finds the ONNX Runtime library (FindLibrary from here).
func testLibrary() string { return FindLibrary(".") }

// sharedEngine is one CPU engine for the whole test binary: sessions cost
// ~0.5 s to create and the engine serialises calls anyway.
var sharedEngine = sync.OnceValues(func() (*Engine, error) {
	return New(Config{LibraryPath: testLibrary(), IntraOpThreads: 1})
})

// setup returns the shared engine, skipping the test when the runtime
// library is absent.
func setup(t testing.TB) *Engine {
	t.Helper()
	if testLibrary() == "" {
		toolcheck.Missing(t, "ONNX Runtime library not found: set %s or run `make setup`", LibraryEnv)
	}
	e, err := sharedEngine()
	require.NoError(t, err)
	return e
}

var photoCache sync.Map // name → *image.NRGBA

// loadPhoto decodes testdata/name into an NRGBA (cached; callers must not
// modify it).
func loadPhoto(t testing.TB, name string) *image.NRGBA {
	t.Helper()
	if v, ok := photoCache.Load(name); ok {
		return v.(*image.NRGBA)
	}
	f, err := os.Open(filepath.Join("testdata", name))
	require.NoError(t, err)
	defer f.Close()
	src, err := jpeg.Decode(f)
	require.NoError(t, err)
	// JPEGs are opaque, so RGBA and NRGBA bytes agree; draw has a fast
	// YCbCr → RGBA path.
	rgba := image.NewRGBA(image.Rect(0, 0, src.Bounds().Dx(), src.Bounds().Dy()))
	draw.Draw(rgba, rgba.Rect, src, src.Bounds().Min, draw.Src)
	img := &image.NRGBA{Pix: rgba.Pix, Stride: rgba.Stride, Rect: rgba.Rect}
	photoCache.Store(name, img)
	return img
}

// flipX mirrors img horizontally.
func flipX(img *image.NRGBA) *image.NRGBA {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			copy(out.Pix[y*out.Stride+(w-1-x)*4:][:4], img.Pix[y*img.Stride+x*4:][:4])
		}
	}
	return out
}

// rotate90 rotates img 90° clockwise: (x, y) → (h-1-y, x) in pixel indices,
// (h-y, x) in continuous coordinates.
func rotate90(img *image.NRGBA) *image.NRGBA {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	out := image.NewNRGBA(image.Rect(0, 0, h, w))
	for y := range h {
		for x := range w {
			copy(out.Pix[x*out.Stride+(h-1-y)*4:][:4], img.Pix[y*img.Stride+x*4:][:4])
		}
	}
	return out
}

// halve downscales img by 2 with a 2×2 box filter.
func halve(img *image.NRGBA) *image.NRGBA {
	w, h := img.Rect.Dx()/2, img.Rect.Dy()/2
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			for c := range 4 {
				s := int(img.Pix[2*y*img.Stride+2*x*4+c]) + int(img.Pix[2*y*img.Stride+(2*x+1)*4+c]) +
					int(img.Pix[(2*y+1)*img.Stride+2*x*4+c]) + int(img.Pix[(2*y+1)*img.Stride+(2*x+1)*4+c])
				out.Pix[y*out.Stride+x*4+c] = uint8((s + 2) / 4)
			}
		}
	}
	return out
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
