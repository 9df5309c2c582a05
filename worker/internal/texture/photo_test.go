package texture_test

import (
	"image"
	"image/draw"
	_ "image/jpeg"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/models/facemesh"
	"github.com/facefleet/facefleet/worker/internal/texture"
)

func loadPhoto(tb testing.TB, path string) *image.NRGBA {
	tb.Helper()
	f, err := os.Open(path)
	require.NoError(tb, err)
	defer f.Close()
	src, _, err := image.Decode(f)
	require.NoError(tb, err)
	img := image.NewNRGBA(src.Bounds())
	draw.Draw(img, img.Rect, src, src.Bounds().Min, draw.Src)
	return img
}

// eyeFitLandmarks places the canonical mesh on a photo with the similarity
// transform (scale, roll, shift; z scaled like x) that puts the canonical
// eye centres on the photo's eye centres (image-left eye first). It stands
// in for the engine's landmarks until testdata/landmarks_*.json exist.
func eyeFitLandmarks(m *facemesh.Mesh, left, right [2]float64) [][3]float32 {
	// Canonical eye centres, seen from the front (y down): the subject's
	// right eye (x < 0) is on the image's left.
	mid := func(a, b int) [2]float64 {
		return [2]float64{float64(m.Vertices[a][0]+m.Vertices[b][0]) / 2, -float64(m.Vertices[a][1]+m.Vertices[b][1]) / 2}
	}
	cl, cr := mid(33, 133), mid(263, 362)
	// Complex-number similarity: p = a*c + b.
	dc := complex(cr[0]-cl[0], cr[1]-cl[1])
	dp := complex(right[0]-left[0], right[1]-left[1])
	a := dp / dc
	b := complex(left[0], left[1]) - a*complex(cl[0], cl[1])
	s := math.Hypot(real(a), imag(a))
	out := make([][3]float32, len(m.Vertices))
	for i, v := range m.Vertices {
		p := a*complex(float64(v[0]), -float64(v[1])) + b
		out[i] = [3]float32{float32(real(p)), float32(imag(p)), float32(-s * float64(v[2]))}
	}
	return out
}

// kjTest2 returns the photo testdata/kj_test2.jpg (a frontal face, 1024²)
// and landmarks fitted to its eye centres, read off the photo by eye:
// image-left eye (380, 412), image-right eye (642, 388).
func kjTest2(tb testing.TB) (*image.NRGBA, [][3]float32) {
	img := loadPhoto(tb, "testdata/kj_test2.jpg")
	return img, eyeFitLandmarks(models.Canonical(), [2]float64{380, 412}, [2]float64{642, 388})
}

// meanDisc is the mean colour of the valid pixels of img within radius r of (cx, cy).
func meanDisc(img *image.NRGBA, cx, cy, r float64) (c [3]float64, n int) {
	for y := int(cy - r); y <= int(cy+r); y++ {
		for x := int(cx - r); x <= int(cx+r); x++ {
			if !image.Pt(x, y).In(img.Rect) || math.Hypot(float64(x)+0.5-cx, float64(y)+0.5-cy) > r {
				continue
			}
			p := img.Pix[img.PixOffset(x, y):]
			if p[3] != 255 {
				continue
			}
			for k := range 3 {
				c[k] += float64(p[k])
			}
			n++
		}
	}
	for k := range 3 {
		c[k] /= float64(max(n, 1))
	}
	return c, n
}

func TestUnwrapRealPhoto(t *testing.T) {
	t.Parallel()
	m := models.Canonical()
	img, lm := kjTest2(t)
	tex, st, err := texture.Unwrap(img, lm, m, texture.Options{Size: 1024})
	require.NoError(t, err)
	dump(t, "kj_test2.png", tex)
	t.Logf("stats %+v", st)
	require.Greater(t, st.Coverage, 0.9)
	// Frontal: the mirror fills only a rim where one side's outline is
	// nearer than the other's (the silhouette margin).
	require.Less(t, st.Mirrored, 0.08)

	// Cheeks (205: subject's right, 425: left) and forehead (151): the
	// texture's mean colour around the vertex's UV matches the photo's mean
	// around the landmark, over discs of the same size on the face.
	scale := math.Hypot(float64(lm[263][0]-lm[33][0]), float64(lm[263][1]-lm[33][1])) /
		(float64(m.UV[263][0]-m.UV[33][0]) * 1024) // photo px per texel
	for _, k := range []int{205, 425, 151} {
		rt := 12.0
		got, n := meanDisc(tex, float64(m.UV[k][0])*1024, float64(m.UV[k][1])*1024, rt)
		require.Greater(t, n, 300)
		want, _ := meanDisc(img, float64(lm[k][0]), float64(lm[k][1]), rt*scale)
		t.Logf("vertex %d: texture %.0f photo %.0f", k, got, want)
		for c := range 3 {
			require.InDelta(t, want[c], got[c], 8, "vertex %d channel %d", k, c)
		}
	}
}
