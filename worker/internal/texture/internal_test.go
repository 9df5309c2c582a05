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
// are hidden behind the nose, and none on the near side are (texels the
// silhouette margin rejects are counted apart: the near side's outline has
// them too).
func TestDepthHidesCheekBehindNose(t *testing.T) {
	t.Parallel()
	m := models.Canonical()
	lm := turned(m, 35)
	lay, err := layoutFor(m, 256)
	require.NoError(t, err)
	img := image.NewNRGBA(image.Rect(0, 0, 510, 510))
	f := newFrame(img, lm, lay, defaultSeam())
	hiddenFar, hiddenNear, rim, seen := 0, 0, 0, 0
	for _, sp := range lay.spans {
		tf := f.tris[sp.tri]
		if !tf.ownOK || tf.os.fold {
			continue
		}
		for i := int(sp.x0); i < int(sp.x1); i++ {
			fi, fj := float64(i), float64(sp.y)
			o := tf.own
			x, y, z := o.ax*fi+o.bx*fj+o.cx, o.ay*fi+o.by*fj+o.cy, o.az*fi+o.bz*fj+o.cz
			seen++
			if f.vis.visible(x, y, z, &tf.os) {
				continue
			}
			if fold := (side{v: tf.os.v, id: tf.os.id, fold: true}); !f.vis.visible(x, y, z, &fold) {
				rim++ // outside the silhouette or within its margin
				continue
			}
			if i > 128 {
				hiddenFar++
			} else {
				hiddenNear++
			}
		}
	}
	t.Logf("front-facing texels %d, hidden far %d, hidden near %d, at the rim %d", seen, hiddenFar, hiddenNear, rim)
	require.Greater(t, hiddenFar, 100)
	// The grid may clip a texel or two where the near nose wing meets the
	// cheek.
	require.Less(t, hiddenNear*50, hiddenFar)
	// The margin widens with the turn: at 35° about an eighth of the
	// front-facing texels lie in it.
	require.Less(t, rim, seen/5)
}

// TestVisibilityNoDepthSlack: a point behind a surface that does not touch
// its own triangle is hidden unless within a cell's depth of it; on its
// own triangle or one sharing a vertex it is visible; off the mesh, at the
// silhouette's rim or outside the grid it is not.
func TestVisibilityNoDepthSlack(t *testing.T) {
	t.Parallel()
	// Two separate triangles (far: vertices 0-2 at z 50, near: 3-5 at z
	// 48.5) overlapping around (50, 50).
	lm := [][3]float32{
		{0, 0, 50}, {100, 0, 50}, {0, 100, 50},
		{40, 40, 48.5}, {100, 40, 48.5}, {40, 100, 48.5},
	}
	tris := [][3]uint16{{0, 1, 2}, {3, 4, 5}}
	v := newVisibility(lm, tris, []bool{true, true}, 200, 200, 0, 0, new(scratch))
	require.Equal(t, uint8(1), v.margin)
	far, near := &side{v: tris[0], id: 0}, &side{v: tris[1], id: 1}
	fold := &side{v: tris[0], id: 0, fold: true}
	require.True(t, v.visible(20, 20, 50, far), "far triangle where nothing covers it")
	require.False(t, v.visible(50, 45, 50, far), "far triangle behind the near one, 1.5 px deeper")
	require.True(t, v.visible(50, 45, 49.2, far), "within a cell's worth of depth")
	require.True(t, v.visible(50, 45, 50, fold), "a fold is not depth-tested")
	require.True(t, v.visible(50, 45, 48.5, near))
	require.True(t, v.visible(50, 45, 50, &side{v: [3]uint16{0, 4, 9}, id: noTri}), "sharing a vertex with the nearest triangle")
	require.False(t, v.visible(150, 150, 0, far), "off the mesh")
	require.False(t, v.visible(0.5, 20, 50, far), "on the outline: within the margin")
	require.False(t, v.visible(-5, 20, 50, far), "outside the grid")
	require.True(t, v.visible(1.5, 20, 50, far), "just past the margin")
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

// TestLayoutCacheIsBounded asks one mesh for more UV sizes than
// MaxCachedSizes: at most that many layouts stay, and the ones built past
// the bound equal what the cache would have held.
func TestLayoutCacheIsBounded(t *testing.T) {
	t.Parallel()
	c := *models.Canonical() // a mesh of its own: the cache is keyed by the pointer
	m := &c
	var sizes []int
	for i := range MaxCachedSizes + 4 {
		sizes = append(sizes, 256+i)
	}
	for _, s := range sizes {
		lay, err := layoutFor(m, s)
		require.NoError(t, err)
		require.Equal(t, s, lay.size)
	}
	v, ok := caches.Load(m)
	require.True(t, ok)
	stored := 0
	v.(*meshCache).sizes.Range(func(any, any) bool { stored++; return true })
	require.Equal(t, MaxCachedSizes, stored)
	require.EqualValues(t, MaxCachedSizes, v.(*meshCache).cached.Load())
	// A size past the bound is built afresh each time, the same as a cached one.
	past := sizes[len(sizes)-1]
	a, err := layoutFor(m, past)
	require.NoError(t, err)
	b, err := layoutFor(m, past)
	require.NoError(t, err)
	require.NotSame(t, a, b)
	require.Equal(t, a.spans, b.spans)
	cachedA, err := layoutFor(m, sizes[0])
	require.NoError(t, err)
	cachedB, err := layoutFor(m, sizes[0])
	require.NoError(t, err)
	require.Same(t, cachedA, cachedB)
}
