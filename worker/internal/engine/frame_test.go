package engine

import (
	"image"
	"image/color"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLetterboxFrameMatchesWhole: a part of a picture letterboxed inside
// its whole frame, over the whole picture as background, is the whole
// picture's letterbox tensor (to float rounding), but for the samples whose bilinear
// neighbour falls just beyond the part (the part's own edge replicates); and
// the letterbox maps the part's pixels to the same tensor points as the
// whole's, shifted by the part's offset. Without a background, the frame
// outside the part is black. A frame equal to the image is letterboxInto.
func TestLetterboxFrameMatchesWhole(t *testing.T) {
	t.Parallel()
	whole := image.NewNRGBA(image.Rect(0, 0, 1000, 700))
	for y := range 700 {
		for x := range 1000 {
			whole.SetNRGBA(x, y, color.NRGBA{uint8(x * 7), uint8(y * 13), uint8((x ^ y) * 3), 255})
		}
	}
	part := image.Rect(410, 170, 820, 530)
	sub := image.NewNRGBA(image.Rect(0, 0, part.Dx(), part.Dy()))
	for y := range part.Dy() {
		copy(sub.Pix[y*sub.Stride:(y+1)*sub.Stride], whole.Pix[whole.PixOffset(part.Min.X, part.Min.Y+y):])
	}
	frame := image.Rect(0, 0, 1000, 700).Sub(part.Min) // the whole, in sub's pixels
	for _, size := range []int{128, 256} {
		want := make([]float32, size*size*3)
		lbW := letterboxInto(want, whole, size)
		got := make([]float32, size*size*3)
		letterboxInto(got, whole, size) // background: the whole picture
		lb := letterboxFrameInto(got, sub, size, frame, true)
		require.InDelta(t, lbW.scale, lb.scale, 1e-6)
		x, y := lb.toImage(50, 60)
		xw, yw := lbW.toImage(50, 60)
		require.InDelta(t, xw-float32(part.Min.X), x, 1e-3)
		require.InDelta(t, yw-float32(part.Min.Y), y, 1e-3)

		black := make([]float32, size*size*3)
		letterboxFrameInto(black, sub, size, frame, false)
		exact, edge := 0, 0
		for ty := range size {
			for tx := range size {
				// The whole picture's source point of this tensor pixel.
				sx, sy := lbW.toImage(float32(tx)+0.5, float32(ty)+0.5)
				in := sx >= float32(part.Min.X) && sx < float32(part.Max.X) && sy >= float32(part.Min.Y) && sy < float32(part.Max.Y)
				nearEdge := math.Abs(float64(sx)-float64(part.Max.X)) < 1.5 || math.Abs(float64(sy)-float64(part.Max.Y)) < 1.5 ||
					math.Abs(float64(sx)-float64(part.Min.X)) < 1.5 || math.Abs(float64(sy)-float64(part.Min.Y)) < 1.5
				i := 3 * (ty*size + tx)
				for c := range 3 {
					if nearEdge {
						edge++
						continue
					}
					// Equal but for float32 rounding of the shifted source
					// coordinate (a level is 1/127.5).
					require.InDelta(t, want[i+c], got[i+c], 1e-4, "size %d tensor (%d,%d) channel %d", size, tx, ty, c)
					if in {
						require.InDelta(t, want[i+c], black[i+c], 1e-4)
					} else {
						require.Equal(t, float32(-1), black[i+c], "outside the part without a background: black")
					}
					exact++
				}
			}
		}
		require.Greater(t, exact, 10*edge)
	}
	a, b := make([]float32, 128*128*3), make([]float32, 128*128*3)
	lbA, lbB := letterboxInto(a, sub, 128), letterboxFrameInto(b, sub, 128, sub.Rect, false)
	require.Equal(t, lbA, lbB)
	require.Equal(t, a, b)
}
