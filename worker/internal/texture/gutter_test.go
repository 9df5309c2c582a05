package texture_test

import (
	"image"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/worker/internal/texture"
)

// validDistance is each texel's chessboard distance to the nearest valid
// texel (alpha 255), capped at limit+1.
func validDistance(tex *image.NRGBA, limit int) []int {
	size := tex.Rect.Dx()
	d := make([]int, size*size)
	for k := range d {
		d[k] = limit + 1
		if tex.Pix[k*4+3] == 255 {
			d[k] = 0
		}
	}
	for step := 1; step <= limit; step++ {
		for y := range size {
			for x := range size {
				if d[y*size+x] != step-1 {
					continue
				}
				for ny := max(y-1, 0); ny <= min(y+1, size-1); ny++ {
					for nx := max(x-1, 0); nx <= min(x+1, size-1); nx++ {
						if k := ny*size + nx; d[k] > step {
							d[k] = step
						}
					}
				}
			}
		}
	}
	return d
}

// checkGutter: alpha is 0 or 255; every empty texel next to a valid one is
// coloured (the gutter is there), with the mean colour of its valid
// neighbours; nothing beyond GutterWidth texels of a valid texel is.
func checkGutter(t *testing.T, tex *image.NRGBA) (gutter int) {
	t.Helper()
	size := tex.Rect.Dx()
	g := texture.GutterWidth(size)
	d := validDistance(tex, g+1)
	for k, dk := range d {
		p := tex.Pix[k*4 : k*4+4]
		coloured := p[0]|p[1]|p[2] != 0
		switch {
		case dk == 0:
			continue
		case p[3] != 0:
			t.Fatalf("texel %d: alpha %d", k, p[3])
		case dk == 1:
			require.True(t, coloured, "texel (%d, %d) next to a valid texel has no gutter colour", k%size, k/size)
			gutter++
			// The mean of its valid neighbours: within their range.
			x, y := k%size, k/size
			lo, hi := [3]int{255, 255, 255}, [3]int{}
			for ny := max(y-1, 0); ny <= min(y+1, size-1); ny++ {
				for nx := max(x-1, 0); nx <= min(x+1, size-1); nx++ {
					if q := tex.Pix[(ny*size+nx)*4:]; q[3] == 255 {
						for c := range 3 {
							lo[c], hi[c] = min(lo[c], int(q[c])), max(hi[c], int(q[c]))
						}
					}
				}
			}
			for c := range 3 {
				require.True(t, int(p[c]) >= lo[c] && int(p[c]) <= hi[c], "texel (%d, %d) channel %d: %d outside its valid neighbours' %d..%d", x, y, c, p[c], lo[c], hi[c])
			}
		case dk <= g:
			if coloured {
				gutter++
			}
		default:
			require.Equal(t, []uint8{0, 0, 0, 0}, p, "texel (%d, %d) is %d texels from a valid one, beyond the gutter", k%size, k/size, dk)
		}
	}
	return gutter
}

func TestGutterSynthetic(t *testing.T) {
	t.Parallel()
	m := models.Canonical()
	img := gradient(510, 510)
	for _, yaw := range []float64{0, 60} {
		for _, size := range []int{256, 1024} {
			tex, _, err := texture.Unwrap(img, project(m, yaw, 20, 255, 250), m, texture.Options{Size: size})
			require.NoError(t, err)
			n := checkGutter(t, tex)
			t.Logf("yaw %v size %d: %d gutter texels (width %d)", yaw, size, n, texture.GutterWidth(size))
			require.Greater(t, n, size*2, "a ring around the layout at least")
		}
	}
}

func TestGutterRealPhoto(t *testing.T) {
	t.Parallel()
	m := models.Canonical()
	for _, name := range []string{texture.Frontal, texture.Turned} {
		img, lm := texture.Fixture(t, name)
		tex, _, err := texture.Unwrap(img, lm, m, texture.Options{Size: 1024})
		require.NoError(t, err)
		dump(t, "gutter-"+name+".png", tex)
		n := checkGutter(t, tex)
		t.Logf("%s: %d gutter texels", name, n)
		require.Greater(t, n, 4*1024)
	}
}

func TestGutterWidth(t *testing.T) {
	t.Parallel()
	for size, want := range map[int]int{256: 2, 512: 2, 1024: 4, 1536: 6, 2048: 8, 4096: 8} {
		require.Equal(t, want, texture.GutterWidth(size), "size %d", size)
	}
}

// TestCoverageCountsValidTexels: Coverage is the fraction of the layout's
// texels with alpha 255, gutter texels not included.
func TestCoverageCountsValidTexels(t *testing.T) {
	t.Parallel()
	m := models.Canonical()
	img, lm := texture.Fixture(t, texture.Turned)
	cases := map[string]func() (*image.NRGBA, texture.Stats, error){
		"photo": func() (*image.NRGBA, texture.Stats, error) {
			return texture.Unwrap(img, lm, m, texture.Options{Size: 512})
		},
		"yaw60": func() (*image.NRGBA, texture.Stats, error) {
			return texture.Unwrap(gradient(510, 510), project(m, 60, 20, 255, 250), m, texture.Options{Size: 512})
		},
		"outside": func() (*image.NRGBA, texture.Stats, error) {
			return texture.Unwrap(gradient(200, 420), project(m, 0, 20, 200, 210), m, texture.Options{Size: 512})
		},
	}
	inside := texture.LayoutInside(t, m, 512)
	for name, run := range cases {
		tex, st, err := run()
		require.NoError(t, err)
		valid, coloured := 0, 0
		for k := 0; k < len(tex.Pix); k += 4 {
			switch {
			case tex.Pix[k+3] == 255:
				valid++
			case tex.Pix[k]|tex.Pix[k+1]|tex.Pix[k+2] != 0:
				coloured++
			}
		}
		t.Logf("%s: %d valid of %d, %d gutter; %+v", name, valid, inside, coloured, st)
		require.Equal(t, valid, int(st.Coverage*float64(inside)+0.5), name)
		require.Positive(t, coloured, name)
		require.LessOrEqual(t, st.Mirrored, st.Coverage, name)
	}
}

// TestUnwrapWorkersAgree: the texture does not depend on how many
// goroutines shade it (the feather's seed cells cross chunk borders).
func TestUnwrapWorkersAgree(t *testing.T) {
	t.Parallel()
	m := models.Canonical()
	img, lm := texture.Fixture(t, texture.Turned)
	want, wst, err := texture.UnwrapWorkers(img, lm, m, texture.Options{Size: 1024}, 1)
	require.NoError(t, err)
	for _, w := range []int{2, 3, 8} {
		got, st, err := texture.UnwrapWorkers(img, lm, m, texture.Options{Size: 1024}, w)
		require.NoError(t, err)
		require.Equal(t, wst.Coverage, st.Coverage, "workers %d", w)
		require.InDelta(t, wst.Mirrored, st.Mirrored, 1e-9, "workers %d", w)
		require.True(t, string(want.Pix) == string(got.Pix), "workers %d: texture differs", w)
	}
}
