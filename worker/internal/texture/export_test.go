package texture

import (
	"encoding/json"
	"image"
	"image/draw"
	_ "image/jpeg" // test photos
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/models/facemesh"
	"github.com/facefleet/facefleet/worker/internal/pngenc"
)

// Seams for the tests and benchmarks in package texture_test.
var (
	UnwrapWorkers = unwrap      // Unwrap on a given number of goroutines
	GutterWidth   = gutterWidth // texels of gutter at a size
)

// CPUTime is the process's user + system CPU time (benchmarks report it
// beside wall time: it is steadier on a shared machine).
var CPUTime = cpuNow

func cpuNow(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	require.NoError(tb, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// EncodePNGBands is EncodePNG with a given number of bands.
func EncodePNGBands(w io.Writer, img *image.NRGBA, bands int) error {
	return (&pngenc.Encoder{Bands: bands}).Encode(w, img)
}

// LayoutInside is the number of texels inside mesh's UV layout at size.
func LayoutInside(tb testing.TB, mesh *facemesh.Mesh, size int) int {
	lay, err := layoutFor(mesh, size)
	require.NoError(tb, err)
	return lay.inside
}

// Fixture returns the photo testdata/NAME.jpg and the engine's landmarks
// for it, testdata/landmarks_NAME.json (worker reconstruct, FP32 on CPU).
func Fixture(tb testing.TB, name string) (*image.NRGBA, [][3]float32) {
	tb.Helper()
	b, err := os.ReadFile("testdata/landmarks_" + name + ".json")
	require.NoError(tb, err)
	var lm [][3]float32
	require.NoError(tb, json.Unmarshal(b, &lm))
	f, err := os.Open("testdata/" + name + ".jpg")
	require.NoError(tb, err)
	defer f.Close()
	src, _, err := image.Decode(f)
	require.NoError(tb, err)
	img := image.NewNRGBA(src.Bounds())
	draw.Draw(img, img.Rect, src, src.Bounds().Min, draw.Src)
	return img, lm
}

// Photos with engine landmarks in testdata.
const (
	Frontal = "kj_test2"                   // frontal, 1024²
	Turned  = "pexels-tim-douglas-6567248" // turned about 30°, 1080²
)
