package texture

import (
	"image"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/models/facemesh"
)

// Texel sources.
const (
	srcNone = iota
	srcOwn
	srcMirror
)

// hardSources classifies every texel of the layout as the hard switch
// (hardSeam) fills it: from its own side, from the mirror, or not at all.
func hardSources(img *image.NRGBA, lm [][3]float32, lay *layout) []uint8 {
	f := newFrame(img, lm, lay, hardSeam())
	src := make([]uint8, lay.size*lay.size)
	fw, fh := float64(f.w), float64(f.h)
	for _, sp := range lay.spans {
		tf := &f.tris[sp.tri]
		fj := float64(sp.y)
		for i := int(sp.x0); i < int(sp.x1); i++ {
			fi := float64(i)
			at := func(a *affine3, sd *side) (float64, bool) {
				x, y, z := a.ax*fi+a.bx*fj+a.cx, a.ay*fi+a.by*fj+a.cy, a.az*fi+a.bz*fj+a.cz
				return a.aq*fi + a.bq*fj + a.cq, x >= 0 && y >= 0 && x <= fw && y <= fh && f.vis.visible(x, y, z, sd)
			}
			qo, ownV := at(&tf.own, &tf.os)
			qm, mirV := at(&tf.mir, &tf.ms)
			ownV = ownV && tf.ownOK
			mirV = mirV && tf.mirOK
			k := int(sp.y)*lay.size + i
			switch {
			case ownV && (!mirV || f.seam.weight(qo, qm) == 1):
				src[k] = srcOwn
			case mirV:
				src[k] = srcMirror
			}
		}
	}
	return src
}

// seamJump is the mean absolute colour difference (over R, G, B) of tex
// between 4-neighbour texels that the hard switch fills from different
// sides, over the pairs both valid in tex, and the number of such pairs.
func seamJump(tex *image.NRGBA, src []uint8, size int) (mean float64, pairs int) {
	var sum float64
	pair := func(a, b int) {
		if src[a] == srcNone || src[b] == srcNone || src[a] == src[b] {
			return
		}
		pa, pb := tex.Pix[a*4:a*4+4], tex.Pix[b*4:b*4+4]
		if pa[3] != 255 || pb[3] != 255 {
			return
		}
		for c := range 3 {
			sum += math.Abs(float64(pa[c])-float64(pb[c])) / 3
		}
		pairs++
	}
	for y := range size {
		for x := range size {
			k := y*size + x
			if x+1 < size {
				pair(k, k+1)
			}
			if y+1 < size {
				pair(k, k+size)
			}
		}
	}
	return sum / float64(max(pairs, 1)), pairs
}

// excessJump sums, over all 4-neighbour pairs of valid texels, how far the
// largest channel difference exceeds tol, per valid texel: steps anywhere
// in the texture that are sharper than the image's own detail.
func excessJump(tex *image.NRGBA, tol float64) float64 {
	size := tex.Rect.Dx()
	var sum float64
	n := 0
	pair := func(a, b int) {
		pa, pb := tex.Pix[a*4:a*4+4], tex.Pix[b*4:b*4+4]
		if pa[3] != 255 || pb[3] != 255 {
			return
		}
		d := 0.0
		for c := range 3 {
			d = math.Max(d, math.Abs(float64(pa[c])-float64(pb[c])))
		}
		sum += math.Max(0, d-tol)
	}
	for y := range size {
		for x := range size {
			k := y*size + x
			if tex.Pix[k*4+3] == 255 {
				n++
			}
			if x+1 < size {
				pair(k, k+1)
			}
			if y+1 < size {
				pair(k, k+size)
			}
		}
	}
	return sum / float64(max(n, 1))
}

// gradientImage is a photo whose colour is linear in the position (R = x/2,
// G = y/2, B = 255 − (x+y)/4), so own and mirrored samples of one texel
// differ by how far apart their photo points are.
func gradientImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			p := img.Pix[y*img.Stride+x*4:]
			p[0], p[1], p[2], p[3] = uint8(x/2), uint8(y/2), uint8(255-(x+y)/4), 255
		}
	}
	return img
}

// compareSeams unwraps img with the hard switch and the default blend and
// returns both seam jumps and excess jumps.
func compareSeams(t *testing.T, img *image.NRGBA, lm [][3]float32, m *facemesh.Mesh, size int) (hardJ, softJ, hardX, softX float64) {
	t.Helper()
	lay, err := layoutFor(m, size)
	require.NoError(t, err)
	src := hardSources(img, lm, lay)
	hard, hst, err := unwrapSeam(img, lm, m, Options{Size: size, Workers: 2}, hardSeam())
	require.NoError(t, err)
	soft, sst, err := unwrapSeam(img, lm, m, Options{Size: size, Workers: 2}, defaultSeam())
	require.NoError(t, err)
	hardJ, pairs := seamJump(hard, src, size)
	softJ, _ = seamJump(soft, src, size)
	hardX, softX = excessJump(hard, 4), excessJump(soft, 4)
	t.Logf("%d own/mirror pairs: mean jump hard %.2f soft %.2f; excess jump hard %.4f soft %.4f; mirrored hard %.3f soft %.3f",
		pairs, hardJ, softJ, hardX, softX, hst.Mirrored, sst.Mirrored)
	require.Greater(t, pairs, 100, "the hard switch has a seam to measure")
	// Coverage means valid texels either way; the blend only adds the
	// folds the hard switch leaves to the mirror or empty.
	require.GreaterOrEqual(t, sst.Coverage, hst.Coverage)
	return hardJ, softJ, hardX, softX
}

// TestSeamSmoothTurnedHead: on a synthetic head turned 30° and 60°, the
// colour jump where the hard switch changes from own to mirrored samples
// drops to well under half with the blend, and sharp steps anywhere in the
// texture drop too.
func TestSeamSmoothTurnedHead(t *testing.T) {
	t.Parallel()
	m := models.Canonical()
	img := gradientImage(510, 510)
	for _, yaw := range []float64{30, 60} {
		hardJ, softJ, hardX, softX := compareSeams(t, img, turned(m, yaw), m, 512)
		require.Less(t, softJ, hardJ/2, "yaw %v", yaw)
		require.Less(t, softX, hardX/2, "yaw %v", yaw)
	}
}

// TestSeamSmoothRealPhoto: the same on a real face turned about 30°, with
// the engine's landmarks.
func TestSeamSmoothRealPhoto(t *testing.T) {
	t.Parallel()
	img, lm := Fixture(t, Turned)
	hardJ, softJ, hardX, softX := compareSeams(t, img, lm, models.Canonical(), 1024)
	require.Less(t, softJ, hardJ*0.6)
	require.Less(t, softX, hardX)
}

// TestFoldSampledFromOwnSide: in the frontal photo some lip-corner and
// nostril triangles fold over (they face away while the triangles around
// them face the camera). The hard switch leaves them to the mirror or
// transparent; the blend samples their own side.
func TestFoldSampledFromOwnSide(t *testing.T) {
	t.Parallel()
	m := models.Canonical()
	img, lm := Fixture(t, Frontal)
	lay := mustLayout(t, m, 1024)
	hard := newFrame(img, lm, lay, hardSeam())
	soft := newFrame(img, lm, lay, defaultSeam())
	folds := map[uint16]bool{}
	for k := range soft.tris {
		if soft.tris[k].ownOK && !hard.tris[k].ownOK {
			require.Negative(t, signedArea(lm, m.Triangles[k])*lay.mesh.tris[k].sign, "triangle %d faces away", k)
			folds[uint16(k)] = true
		}
	}
	require.True(t, folds[465], "triangle 465 (upper lip, vertices 80, 81, 42)")
	require.GreaterOrEqual(t, len(folds), 3)

	tex, _, err := unwrapSeam(img, lm, m, Options{Size: 1024, Workers: 1}, defaultSeam())
	require.NoError(t, err)
	htex, _, err := unwrapSeam(img, lm, m, Options{Size: 1024, Workers: 1}, hardSeam())
	require.NoError(t, err)
	// Their texels now hold the photo at their own points.
	own, hardOwn, n := 0, 0, 0
	for _, sp := range lay.spans {
		if !folds[sp.tri] {
			continue
		}
		o := soft.tris[sp.tri].own
		for i := int(sp.x0); i < int(sp.x1); i++ {
			fi, fj := float64(i), float64(sp.y)
			var want [4]uint8
			soft.sample(want[:], o.ax*fi+o.bx*fj+o.cx, o.ay*fi+o.by*fj+o.cy)
			k := int(sp.y)*tex.Stride + i*4
			n++
			if near(tex.Pix[k:k+4], want[:], 2) {
				own++
			}
			if near(htex.Pix[k:k+4], want[:], 2) {
				hardOwn++
			}
		}
	}
	t.Logf("%d fold triangles, %d texels: %d own samples (hard switch: %d)", len(folds), n, own, hardOwn)
	require.Greater(t, n, 200)
	require.GreaterOrEqual(t, own, n*9/10)
	require.Less(t, hardOwn, n/4)
}

func near(a, b []uint8, tol int) bool {
	for c := range 4 {
		if d := int(a[c]) - int(b[c]); d > tol || d < -tol {
			return false
		}
	}
	return true
}

func mustLayout(t *testing.T, m *facemesh.Mesh, size int) *layout {
	t.Helper()
	lay, err := layoutFor(m, size)
	require.NoError(t, err)
	return lay
}

// TestSeamWeight pins the shape of the geometric weight: own where the own
// side is seen well or the mirror is no better, mirror where the own side
// is edge-on and the mirror seen well, monotone in between.
func TestSeamWeight(t *testing.T) {
	t.Parallel()
	s := defaultSeam()
	require.Equal(t, 1.0, s.weight(1, 1))
	require.Equal(t, 1.0, s.weight(0.2, 0.2), "both sides alike (the sides of a frontal face)")
	require.Equal(t, 1.0, s.weight(0.5, 1.5), "own seen well enough")
	require.Equal(t, 0.0, s.weight(0.05, 1))
	prev := 0.0
	for qo := 0.0; qo <= 0.6; qo += 0.01 {
		w := s.weight(qo, 1)
		require.GreaterOrEqual(t, w, prev-1e-12, "monotone in own frontality at %v", qo)
		prev = w
	}
	h := hardSeam()
	require.Equal(t, 0.0, h.weight(0.19, 0.2))
	require.Equal(t, 1.0, h.weight(0.2, 1))
}
