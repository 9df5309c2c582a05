package texture

import (
	"image"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/models/facemesh"
)

// TestDepthHidesCheekBehindNose checks the occlusion test on its own: with
// the head turned 35°, some texels of front-facing triangles on the far side
// are hidden behind the nose, and none on the near side are.
func TestDepthHidesCheekBehindNose(t *testing.T) {
	t.Parallel()
	m := models.Canonical()
	lm := turned(m, 35)
	lay, err := layoutFor(m, 256)
	require.NoError(t, err)
	img := image.NewNRGBA(image.Rect(0, 0, 510, 510))
	f := newFrame(img, lm, lay, defaultSeam())
	hiddenFar, hiddenNear, seen := 0, 0, 0
	for _, sp := range lay.spans {
		tf := f.tris[sp.tri]
		if !tf.ownOK {
			continue
		}
		for i := int(sp.x0); i < int(sp.x1); i++ {
			fi, fj := float64(i), float64(sp.y)
			o := tf.own
			x, y, z := o.ax*fi+o.bx*fj+o.cx, o.ay*fi+o.by*fj+o.cy, o.az*fi+o.bz*fj+o.cz
			seen++
			if f.depth.visible(x, y, z) {
				continue
			}
			if i > 128 {
				hiddenFar++
			} else {
				hiddenNear++
			}
		}
	}
	t.Logf("front-facing texels %d, hidden far %d, hidden near %d", seen, hiddenFar, hiddenNear)
	require.Greater(t, hiddenFar, 100)
	require.Zero(t, hiddenNear)
}

// turned is the canonical mesh turned by yaw degrees (+x side away), 20 px/cm.
func turned(m *facemesh.Mesh, yawDeg float64) [][3]float32 {
	yaw := yawDeg * math.Pi / 180
	lm := make([][3]float32, len(m.Vertices))
	for i, v := range m.Vertices {
		x, y, z := float64(v[0]), float64(v[1]), float64(v[2])
		lm[i] = [3]float32{float32(255 + 20*(x*math.Cos(yaw)+z*math.Sin(yaw))), float32(250 - 20*y), float32(-20 * (-x*math.Sin(yaw) + z*math.Cos(yaw)))}
	}
	return lm
}

// TestGrazingPrefersMirror: seen from the front no triangle prefers its
// mirror (both sides are seen alike); turned 50°, far-side triangles seen
// edge-on do (geometric own weight below ½ at the centroid), almost only on
// the far side.
func TestGrazingPrefersMirror(t *testing.T) {
	t.Parallel()
	m := models.Canonical()
	lay, err := layoutFor(m, 256)
	require.NoError(t, err)
	img := image.NewNRGBA(image.Rect(0, 0, 510, 510))
	count := func(yaw float64) (far, near int) {
		f := newFrame(img, turned(m, yaw), lay, defaultSeam())
		for k, tf := range f.tris {
			if !tf.blend || centroidWeight(f, lay, k) >= 0.5 {
				continue
			}
			tri := m.Triangles[k]
			if m.Vertices[tri[0]][0]+m.Vertices[tri[1]][0]+m.Vertices[tri[2]][0] > 0 {
				far++
			} else {
				t.Logf("near-side triangle %d %v prefers the mirror", k, tri)
				near++
			}
		}
		return far, near
	}
	far, near := count(0)
	require.Zero(t, far+near)
	far, near = count(50)
	t.Logf("turned 50°: %d far-side and %d near-side triangles prefer the mirror", far, near)
	// The near side may have a lip-fold triangle or two that turn edge-on.
	require.Greater(t, far, 20)
	require.Less(t, near*10, far)
}

// centroidWeight is the geometric own weight at the texel nearest to
// triangle k's UV centroid.
func centroidWeight(f *frame, lay *layout, k int) float64 {
	m := models.Canonical()
	tri := m.Triangles[k]
	var u, v float64
	for _, i := range tri {
		u += float64(m.UV[i][0]) / 3
		v += float64(m.UV[i][1]) / 3
	}
	fi, fj := u*float64(lay.size)-0.5, v*float64(lay.size)-0.5
	tf := f.tris[k]
	o, mi := tf.own, tf.mir
	return f.seam.weight(o.aq*fi+o.bq*fj+o.cq, mi.aq*fi+mi.bq*fj+mi.cq)
}
