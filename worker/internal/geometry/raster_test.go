package geometry

import (
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// at returns the pixel under landmark i.
func at(lm [][3]float32, i int) image.Point {
	return image.Pt(int(lm[i][0]), int(lm[i][1]))
}

// dumpPNG writes img under $FACEFLEET_GEOMETRY_DUMP (if set) for a look.
func dumpPNG(t *testing.T, name string, img image.Image) {
	t.Helper()
	dir := os.Getenv("FACEFLEET_GEOMETRY_DUMP")
	if dir == "" {
		return
	}
	f, err := os.Create(filepath.Join(dir, name))
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, png.Encode(f, img))
}

const (
	vNoseTip     = 1
	vForehead    = 151
	vRightCheek  = 50  // subject's right: image left
	vLeftCheek   = 280 // subject's left: image right
	vRightTemple = 127
)

func TestRenderDepthFrontal(t *testing.T) {
	t.Parallel()
	mesh := canonical(t)
	s := frontal()
	lm := s.landmarks(mesh)
	d := RenderDepth(lm, s.w, s.h, mesh.Triangles)
	dumpPNG(t, "depth_frontal.png", d)
	require.Equal(t, image.Rect(0, 0, s.w, s.h), d.Bounds())
	require.Zero(t, d.Gray16At(0, 0).Y, "background")
	require.Zero(t, d.Gray16At(s.w-1, s.h-1).Y, "background")
	nose := d.Gray16At(at(lm, vNoseTip).X, at(lm, vNoseTip).Y).Y
	cheek := d.Gray16At(at(lm, vRightCheek).X, at(lm, vRightCheek).Y).Y
	temple := d.Gray16At(at(lm, vRightTemple).X, at(lm, vRightTemple).Y).Y
	require.Greater(t, nose, uint16(60000), "nose tip is about the nearest point")
	require.Greater(t, nose, cheek)
	require.Greater(t, cheek, temple)
	require.Positive(t, temple)
	var maxV uint16
	covered := 0
	for y := range s.h {
		for x := range s.w {
			v := d.Gray16At(x, y).Y
			maxV = max(maxV, v)
			if v > 0 {
				covered++
			}
		}
	}
	require.Equal(t, uint16(65535), maxV)
	// The face spans roughly 15×19 cm at 20 px/cm; its outline is oval.
	require.Greater(t, covered, 40000)
	require.Less(t, covered, 300*380)
}

func TestRenderDepthOcclusion(t *testing.T) {
	t.Parallel()
	// Two overlapping triangles: the nearer (smaller z) must win where they
	// overlap, whatever the drawing order.
	lm := [][3]float32{
		{10, 10, 50}, {90, 10, 50}, {10, 90, 50}, // far
		{30, 30, 5}, {95, 30, 5}, {30, 95, 5}, // near
	}
	for _, tris := range [][][3]uint16{{{0, 1, 2}, {3, 4, 5}}, {{3, 4, 5}, {0, 1, 2}}} {
		d := RenderDepth(lm, 100, 100, tris)
		require.Equal(t, uint16(65535), d.Gray16At(40, 40).Y, "overlap: near")
		require.Equal(t, uint16(1), d.Gray16At(15, 15).Y, "far only")
		require.Equal(t, uint16(65535), d.Gray16At(80, 40).Y, "near only")
		require.Zero(t, d.Gray16At(95, 95).Y, "background")
	}
}

func TestRenderDepthInterpolates(t *testing.T) {
	t.Parallel()
	// A quad sloping in z along x: depth falls linearly from left to right.
	lm := [][3]float32{{0, 0, 0}, {64, 0, 64}, {64, 64, 64}, {0, 64, 0}}
	d := RenderDepth(lm, 64, 64, [][3]uint16{{0, 1, 2}, {0, 2, 3}})
	for y := range 64 {
		for x := range 64 {
			// Visible z runs from 0.5 (first pixel centre) to 63.5.
			want := 1 + (63.5-(float64(x)+0.5))/63*65534
			require.InDelta(t, want, float64(d.Gray16At(x, y).Y), 2, "(%d,%d)", x, y)
		}
	}
}

func TestRenderSkipsBadInput(t *testing.T) {
	t.Parallel()
	nan := float32(math.NaN())
	lm := [][3]float32{{0, 0, 0}, {10, 0, 0}, {0, 10, 0}, {nan, 5, 1}}
	tris := [][3]uint16{{0, 1, 9}, {0, 1, 3}, {0, 1, 2}}
	d := RenderDepth(lm, 16, 16, tris)
	require.Equal(t, uint16(65535), d.Gray16At(2, 2).Y)
	require.Zero(t, d.Gray16At(12, 12).Y)
	n := RenderNormals(lm, 16, 16, tris)
	require.Equal(t, uint8(255), n.NRGBAAt(2, 2).A)
	require.Equal(t, image.Rect(0, 0, 0, 0), RenderDepth(lm, 0, -3, tris).Bounds())
	require.Zero(t, RenderNormals(nil, 8, 8, tris).NRGBAAt(4, 4).A)
	// Off-image landmarks are clipped, not indexed out of range.
	far := [][3]float32{{-1e6, -1e6, 0}, {1e6, -1e6, 0}, {0, 1e6, 0}}
	d = RenderDepth(far, 8, 8, [][3]uint16{{0, 1, 2}})
	require.Equal(t, uint16(65535), d.Gray16At(4, 4).Y)
}

func TestRenderNormalsFrontal(t *testing.T) {
	t.Parallel()
	mesh := canonical(t)
	s := frontal()
	lm := s.landmarks(mesh)
	n := RenderNormals(lm, s.w, s.h, mesh.Triangles)
	dumpPNG(t, "normals_frontal.png", n)
	require.Zero(t, n.NRGBAAt(0, 0).A)
	px := func(i int) [3]int {
		p := at(lm, i)
		c := n.NRGBAAt(p.X, p.Y)
		require.Equal(t, uint8(255), c.A)
		return [3]int{int(c.R), int(c.G), int(c.B)}
	}
	nose := px(vNoseTip)
	require.Greater(t, nose[2], 220, "nose tip faces the camera: %v", nose)
	require.Less(t, px(vRightCheek)[0], 120, "image-left cheek faces left")
	require.Greater(t, px(vLeftCheek)[0], 136, "image-right cheek faces right")
	require.Greater(t, px(vForehead)[1], 132, "forehead faces up")
}

// normalX decodes the x of the normal under landmark i.
func normalX(img *image.NRGBA, lm [][3]float32, i int) float64 {
	p := at(lm, i)
	return float64(img.NRGBAAt(p.X, p.Y).R)/255*2 - 1
}

// meanNormalX is the average decoded x of the covered pixels.
func meanNormalX(img *image.NRGBA) float64 {
	var sum float64
	var n int
	for i := 0; i < len(img.Pix); i += 4 {
		if img.Pix[i+3] != 0 {
			sum += float64(img.Pix[i])/255*2 - 1
			n++
		}
	}
	return sum / float64(n)
}

func TestRenderNormalsFollowYaw(t *testing.T) {
	t.Parallel()
	mesh := canonical(t)
	flm := frontal().landmarks(mesh)
	front := RenderNormals(flm, 512, 512, mesh.Triangles)
	base := meanNormalX(front)
	s := frontal()
	s.yaw = 35
	lm := s.landmarks(mesh)
	turned := RenderNormals(lm, 512, 512, mesh.Triangles)
	dumpPNG(t, "normals_yaw35.png", turned)
	dumpPNG(t, "depth_yaw35.png", RenderDepth(lm, 512, 512, mesh.Triangles))
	require.InDelta(t, 0, base, 0.05, "frontal face is symmetric")
	// Normals on the midline rotate with the head: from ≈0 to ≈sin 35° ≈ 0.57.
	for _, v := range []int{vNoseTip, vForehead} {
		require.InDelta(t, 0, normalX(front, flm, v), 0.1, "vertex %d frontal", v)
		require.Greater(t, normalX(turned, lm, v), 0.4, "vertex %d turned right: normal points right", v)
	}
	require.Greater(t, meanNormalX(turned), base+0.03)
}

func TestRenderDepthSinglePixel(t *testing.T) {
	t.Parallel()
	// A sliver covering exactly one pixel centre: still the nearest value.
	lm := [][3]float32{{2.4, 2.4, 7}, {2.7, 2.4, 7}, {2.4, 2.7, 7}}
	d := RenderDepth(lm, 5, 5, [][3]uint16{{0, 1, 2}})
	require.Equal(t, uint16(65535), d.Gray16At(2, 2).Y)
	lm = [][3]float32{{2.4, 2.4, 9}, {2.7, 2.4, 3}, {2.4, 2.7, 1}}
	d = RenderDepth(lm, 5, 5, [][3]uint16{{0, 1, 2}})
	require.Equal(t, uint16(65535), d.Gray16At(2, 2).Y)
}

func TestRenderDepthInterpolatesDescending(t *testing.T) {
	t.Parallel()
	// The mirror of TestRenderDepthInterpolates: z falls along the scan
	// order, so the nearest pixel is met last.
	lm := [][3]float32{{0, 0, 64}, {64, 0, 0}, {64, 64, 0}, {0, 64, 64}}
	d := RenderDepth(lm, 64, 64, [][3]uint16{{0, 1, 2}, {0, 2, 3}})
	for y := range 64 {
		for x := range 64 {
			want := 1 + (float64(x)+0.5-0.5)/63*65534
			require.InDelta(t, want, float64(d.Gray16At(x, y).Y), 2, "(%d,%d)", x, y)
		}
	}
}

// TestRenderMapsMatches checks that RenderMaps' one rasterisation gives
// exactly RenderDepth's and RenderNormals' images on real landmarks.
func TestRenderMapsMatches(t *testing.T) {
	t.Parallel()
	mesh := canonical(t)
	for _, name := range []string{"bf_Test1.face0.json", "ddfa_jianzhuguo.face0.json"} {
		f := loadRealFace(t, name)
		d, n := RenderMaps(f.Landmarks, f.Width, f.Height, mesh.Triangles)
		require.Equal(t, RenderDepth(f.Landmarks, f.Width, f.Height, mesh.Triangles), d, name)
		require.Equal(t, RenderNormals(f.Landmarks, f.Width, f.Height, mesh.Triangles), n, name)
		require.NotZero(t, n.Pix[n.PixOffset(int(f.Landmarks[vNoseTip][0]), int(f.Landmarks[vNoseTip][1]))+3], name)
	}
}

// TestRasterizeScaled: on a half-resolution grid a triangle covers about a
// quarter of the cells it covers at full resolution, Index maps image
// points to the cells that hold them, and the nearer of two overlapping
// triangles wins on both grids.
func TestRasterizeScaled(t *testing.T) {
	t.Parallel()
	lm := [][3]float32{
		{10, 10, 50}, {190, 10, 50}, {10, 190, 50}, // far
		{60, 60, 5}, {150, 60, 5}, {60, 150, 5}, // near
	}
	tris := [][3]uint16{{0, 1, 2}, {3, 4, 5}}
	full := Rasterize(lm, 200, 200, tris, 1)
	half := Rasterize(lm, 200, 200, tris, 0.5)
	require.InDelta(t, 0.5, half.Scale, 0)
	require.LessOrEqual(t, half.W, 100)
	require.LessOrEqual(t, half.H, 100)
	count := func(r *ZBuffer) (n int) {
		for _, tri := range r.Tri {
			if tri >= 0 {
				n++
			}
		}
		return n
	}
	require.InEpsilon(t, float64(count(full))/4, float64(count(half)), 0.05)
	for _, r := range []*ZBuffer{full, half} {
		k := r.Index(80, 80)
		require.GreaterOrEqual(t, k, 0)
		require.Equal(t, int32(1), r.Tri[k], "the near triangle wins")
		require.InDelta(t, 5, r.Z[k], 1e-4)
		k = r.Index(30, 30)
		require.Equal(t, int32(0), r.Tri[k])
		k = r.Index(180, 180)
		require.Equal(t, int32(-1), r.Tri[k], "inside the box, off the mesh")
		require.Equal(t, -1, r.Index(5, 100), "left of the box")
		require.Equal(t, -1, r.Index(100, 250), "below the image")
	}
	// A scale ≤ 0 counts as 1.
	require.Equal(t, full.W, Rasterize(lm, 200, 200, tris, 0).W)
}
