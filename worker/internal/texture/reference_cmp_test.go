package texture

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/models"
)

// TestFastMatchesReference: on the real photos with the engine's
// landmarks, at 256², 512², 1024² and 2048², on one and on three
// goroutines, Unwrap's texture is the reference path's (unwrapRef) up to
// rounding: the same alpha everywhere (the same texels valid, the same
// gutter), the same coverage and mirrored share, colours at most 2 levels
// apart (the fast path blends own and mirror once, at the final weight,
// where the reference blends at the geometric weight and then again
// towards the mirror in the feather band) and a PSNR over the valid texels
// above 55 dB.
func TestFastMatchesReference(t *testing.T) {
	t.Parallel()
	m := models.Canonical()
	for _, name := range []string{Frontal, Turned} {
		img, lm := Fixture(t, name)
		for _, size := range []int{256, 512, 1024, 2048} {
			for _, w := range []int{1, 3} {
				o := Options{Size: size, Workers: w}
				want, wst, err := unwrapRef(img, lm, m, o, w, defaultSeam())
				require.NoError(t, err)
				got, st, err := Unwrap(img, lm, m, o)
				require.NoError(t, err)
				require.Equal(t, wst.Coverage, st.Coverage, "%s %d", name, size)
				require.InDelta(t, wst.Mirrored, st.Mirrored, 1e-9, "%s %d", name, size)
				require.Equal(t, wst.BackFacing, st.BackFacing)
				var sq float64
				maxd, n, differ := 0, 0, 0
				for k := 0; k < len(want.Pix); k += 4 {
					require.Equal(t, want.Pix[k+3], got.Pix[k+3], "%s %d: alpha of texel %d", name, size, k/4)
					if want.Pix[k+3] != 255 {
						continue
					}
					n++
					d0 := 0
					for c := range 3 {
						d := int(want.Pix[k+c]) - int(got.Pix[k+c])
						sq += float64(d * d)
						d0 = max(d0, d, -d)
					}
					maxd = max(maxd, d0)
					if d0 > 0 {
						differ++
					}
				}
				psnr := math.Inf(1)
				if sq > 0 {
					psnr = 10 * math.Log10(255*255/(sq/float64(3*n)))
				}
				t.Logf("%s %d² workers %d: %d valid texels, %d differ (%.3f%%), max %d levels, PSNR %.1f dB", name, size, w, n, differ, 100*float64(differ)/float64(n), maxd, psnr)
				require.Greater(t, n, size*size/4)
				require.LessOrEqual(t, maxd, 2, "%s %d", name, size)
				require.Greater(t, psnr, 55.0, "%s %d", name, size)
			}
		}
	}
}
