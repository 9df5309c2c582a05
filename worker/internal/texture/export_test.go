package texture

import (
	"image"
	"io"

	"github.com/facefleet/facefleet/worker/internal/pngenc"
)

// Seams for the benchmarks in package texture_test.
var (
	UnwrapWorkers = unwrap // Unwrap on a given number of goroutines
)

// EncodePNGBands is EncodePNG with a given number of bands.
func EncodePNGBands(w io.Writer, img *image.NRGBA, bands int) error {
	return (&pngenc.Encoder{Bands: bands}).Encode(w, img)
}
