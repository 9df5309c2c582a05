package texture_test

import (
	"errors"
	"flag"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/models/facemesh"
	"github.com/facefleet/facefleet/worker/internal/geometry"
	"github.com/facefleet/facefleet/worker/internal/texture"
)

var dumpDir = flag.String("texture.dump", "", "write the textures the tests make into this directory")

func dump(t *testing.T, name string, img *image.NRGBA) {
	t.Helper()
	if *dumpDir == "" {
		return
	}
	f, err := os.Create(filepath.Join(*dumpDir, name))
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, texture.EncodePNG(f, img))
}

// project places the canonical mesh in a photo: turned by yaw degrees about
// the vertical axis (positive yaw moves the face's +x side away from the
// camera), scaled by s pixels per centimetre, nose-ish centre at (cx, cy).
// z follows the landmark convention: smaller = nearer.
func project(m *facemesh.Mesh, yaw, s, cx, cy float64) [][3]float32 {
	c, sn := math.Cos(yaw*math.Pi/180), math.Sin(yaw*math.Pi/180)
	out := make([][3]float32, len(m.Vertices))
	for i, v := range m.Vertices {
		x, y, z := float64(v[0]), float64(v[1]), float64(v[2])
		xr := x*c + z*sn
		zr := -x*sn + z*c
		out[i] = [3]float32{float32(cx + s*xr), float32(cy - s*y), float32(-s * zr)}
	}
	return out
}

// gradient is an image whose colour is a linear function of the position,
// so bilinear sampling reproduces it exactly (up to rounding): R = x/2,
// G = y/2, B = 255 - (x+y)/4 for a 510×510 image.
func gradient(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			p := img.Pix[y*img.Stride+x*4:]
			r, g, b := expected(float64(x)+0.5, float64(y)+0.5)
			p[0], p[1], p[2], p[3] = uint8(math.Round(r)), uint8(math.Round(g)), uint8(math.Round(b)), 255
		}
	}
	return img
}

func expected(x, y float64) (r, g, b float64) {
	return x / 2, y / 2, 255 - (x+y)/4
}

// texelAt returns the texel containing the UV point of vertex k.
func texelAt(tex *image.NRGBA, m *facemesh.Mesh, k int) []uint8 {
	n := tex.Rect.Dx()
	i := min(int(float64(m.UV[k][0])*float64(n)), n-1)
	j := min(int(float64(m.UV[k][1])*float64(n)), n-1)
	return tex.Pix[j*tex.Stride+i*4 : j*tex.Stride+i*4+4]
}

// checkVertex compares the texel at vertex k's UV with the gradient colour at
// landmark src; tol covers half a texel of position error.
func checkVertex(t *testing.T, tex *image.NRGBA, m *facemesh.Mesh, k int, lm [3]float32, tol float64) {
	t.Helper()
	px := texelAt(tex, m, k)
	r, g, b := expected(float64(lm[0]), float64(lm[1]))
	require.InDelta(t, r, float64(px[0]), tol, "vertex %d red", k)
	require.InDelta(t, g, float64(px[1]), tol, "vertex %d green", k)
	require.InDelta(t, b, float64(px[2]), tol, "vertex %d blue", k)
}

func TestUnwrapFrontalReproducesPattern(t *testing.T) {
	t.Parallel()
	m := models.Canonical()
	img := gradient(510, 510)
	lm := project(m, 0, 20, 255, 250)
	tex, st, err := texture.Unwrap(img, lm, m, texture.Options{Size: 512})
	require.NoError(t, err)
	dump(t, "frontal.png", tex)
	require.Equal(t, image.Rect(0, 0, 512, 512), tex.Rect)

	// The canonical mesh seen from the front: only the few folded
	// triangles inside the lips and under the nose face away. The rim of
	// the layout, within the silhouette margin (1 px here) of the outline,
	// stays empty.
	require.Less(t, st.BackFacing, 20)
	require.Greater(t, st.Coverage, 0.95)
	require.Less(t, st.Mirrored, 0.02)

	// One texel is 1/512 of the layout; the face spans ~17 cm × 20 px/cm, so
	// half a texel is < 0.5 px, < 0.25 colour levels, plus rounding; in the
	// lip folds a texel stretches further.
	checked := 0
	for k := range m.Vertices {
		if texelAt(tex, m, k)[3] != 255 {
			continue
		}
		checkVertex(t, tex, m, k, lm[k], 3)
		checked++
	}
	require.Greater(t, checked, 410, "all but the outline vertices (silhouette margin)")
}

func TestUnwrapTurnedHeadMirrorFills(t *testing.T) {
	t.Parallel()
	m := models.Canonical()
	img := gradient(510, 510)
	lm := project(m, 60, 20, 255, 250)

	tex, st, err := texture.Unwrap(img, lm, m, texture.Options{Size: 512})
	require.NoError(t, err)
	dump(t, "yaw60.png", tex)
	require.Greater(t, st.BackFacing, 150, "the far side faces away")
	require.Greater(t, st.Mirrored, 0.15)
	require.Greater(t, st.Coverage, 0.9)

	// Far-side texels either still see their own point (surfaces that face
	// forward, like the eye socket, stay visible at 60°) or were filled from
	// the mirror vertex; near-side texels always see their own point.
	farMirror, near := 0, 0
	for k, v := range m.Vertices {
		px := texelAt(tex, m, k)
		if px[3] != 255 {
			continue
		}
		switch {
		case v[0] > 4:
			if colourNear(px, lm[m.Mirror[k]], 3) {
				farMirror++
			} else {
				checkVertex(t, tex, m, k, lm[k], 3)
			}
		case v[0] < -4:
			checkVertex(t, tex, m, k, lm[k], 3)
			near++
		}
	}
	require.Greater(t, farMirror, 40)
	require.Greater(t, near, 40)
}

func colourNear(px []uint8, lm [3]float32, tol float64) bool {
	r, g, b := expected(float64(lm[0]), float64(lm[1]))
	return math.Abs(r-float64(px[0])) <= tol && math.Abs(g-float64(px[1])) <= tol && math.Abs(b-float64(px[2])) <= tol
}

func TestUnwrapWithoutMirrorLeavesFarSideInvalid(t *testing.T) {
	t.Parallel()
	m := models.Canonical()
	// A mesh whose mirror map is the identity cannot fill anything: the
	// far side must stay transparent.
	noMirror := *m
	noMirror.Mirror = make([]int, len(m.Mirror))
	for i := range noMirror.Mirror {
		noMirror.Mirror[i] = i
	}
	img := gradient(510, 510)
	lm := project(m, 60, 20, 255, 250)
	tex, st, err := texture.Unwrap(img, lm, &noMirror, texture.Options{Size: 256})
	require.NoError(t, err)
	require.Zero(t, st.Mirrored)
	require.Less(t, st.Coverage, 0.8)
	invalid := 0
	for k, v := range m.Vertices {
		if v[0] > 6 && texelAt(tex, m, k)[3] == 0 {
			invalid++
		}
	}
	require.Greater(t, invalid, 20)
}

func TestUnwrapOccludedByNose(t *testing.T) {
	t.Parallel()
	m := models.Canonical()
	img := gradient(510, 510)
	// At 35° every triangle of the far cheek still faces the camera, but the
	// nose hides the strip of cheek beside it.
	lm := project(m, 35, 20, 255, 250)
	var noMirror = *m
	noMirror.Mirror = make([]int, len(m.Mirror))
	for i := range noMirror.Mirror {
		noMirror.Mirror[i] = i
	}
	tex, _, err := texture.Unwrap(img, lm, &noMirror, texture.Options{Size: 512})
	require.NoError(t, err)
	dump(t, "yaw35-nomirror.png", tex)
	// Vertex 360-ish region: the far-side nose wing / cheek next to the
	// nose. Find far-side vertices that are front-facing but hidden: their
	// projected point lies inside the nose's silhouette, which is nearer.
	hidden := 0
	for k, v := range m.Vertices {
		if v[0] > 1.5 && v[0] < 3.5 && v[1] > -3 && v[1] < 1 && texelAt(tex, m, k)[3] == 0 {
			hidden++
		}
	}
	require.Positive(t, hidden, "some cheek texels beside the nose are hidden")
}

func TestUnwrapInvalidSize(t *testing.T) {
	t.Parallel()
	m := models.Canonical()
	img := gradient(64, 64)
	lm := project(m, 0, 2, 32, 32)
	for _, size := range []int{-1, 1, 255, 4097, 1 << 20} {
		_, _, err := texture.Unwrap(img, lm, m, texture.Options{Size: size})
		require.ErrorIs(t, err, texture.ErrInvalidSize, "size %d", size)
		require.ErrorIs(t, err, texture.ErrInvalidOptions, "size %d", size)
		var coded interface{ Code() string }
		require.True(t, errors.As(err, &coded))
		require.Equal(t, "invalid_options", coded.Code())
	}
	for _, size := range []int{0, 256} {
		tex, _, err := texture.Unwrap(img, lm, m, texture.Options{Size: size})
		require.NoError(t, err)
		want := size
		if size == 0 {
			want = texture.DefaultSize
		}
		require.Equal(t, want, tex.Rect.Dx())
	}
}

// TestUnwrapInvalidWorkers: a worker count outside 0..MaxWorkers is a typed
// invalid option, reported together with a bad size; within it the texture
// is the same whatever the count (TestUnwrapWorkersAgree).
func TestUnwrapInvalidWorkers(t *testing.T) {
	t.Parallel()
	m := models.Canonical()
	img := gradient(64, 64)
	lm := project(m, 0, 2, 32, 32)
	for _, w := range []int{-1, texture.MaxWorkers + 1} {
		_, _, err := texture.Unwrap(img, lm, m, texture.Options{Size: 256, Workers: w})
		require.ErrorIs(t, err, texture.ErrInvalidWorkers, "workers %d", w)
		require.ErrorIs(t, err, texture.ErrInvalidOptions, "workers %d", w)
	}
	err := texture.Options{Size: 1, Workers: -1}.Validate()
	require.ErrorIs(t, err, texture.ErrInvalidSize)
	require.ErrorIs(t, err, texture.ErrInvalidWorkers)
	for _, w := range []int{0, 1, texture.MaxWorkers} {
		_, _, err := texture.Unwrap(img, lm, m, texture.Options{Size: 512, Workers: w})
		require.NoError(t, err, "workers %d", w)
	}
	require.Equal(t, 1, texture.DefaultWorkers(256), "below 512² on one goroutine")
	require.GreaterOrEqual(t, texture.DefaultWorkers(1024), 1)
}

func TestUnwrapInvalidInput(t *testing.T) {
	t.Parallel()
	m := models.Canonical()
	img := gradient(64, 64)
	lm := project(m, 0, 2, 32, 32)
	nan := append([][3]float32(nil), lm...)
	nan[7][1] = float32(math.NaN())
	cases := map[string]func() error{
		"short":    func() error { _, _, err := texture.Unwrap(img, lm[:10], m, texture.Options{}); return err },
		"nan":      func() error { _, _, err := texture.Unwrap(img, nan, m, texture.Options{}); return err },
		"nil mesh": func() error { _, _, err := texture.Unwrap(img, lm, nil, texture.Options{}); return err },
		"nil img":  func() error { _, _, err := texture.Unwrap(nil, lm, m, texture.Options{}); return err },
		"empty img": func() error {
			_, _, err := texture.Unwrap(image.NewNRGBA(image.Rect(0, 0, 0, 0)), lm, m, texture.Options{})
			return err
		},
	}
	for name, f := range cases {
		err := f()
		require.ErrorIs(t, err, texture.ErrInvalidInput, name)
		require.NotErrorIs(t, err, texture.ErrInvalidOptions, name)
	}
}

func TestUnwrapFaceOutsideImage(t *testing.T) {
	t.Parallel()
	m := models.Canonical()
	img := gradient(200, 420)
	// Only the left part of the face is inside the photo.
	lm := project(m, 0, 20, 200, 210)
	tex, st, err := texture.Unwrap(img, lm, m, texture.Options{Size: 256})
	require.NoError(t, err)
	dump(t, "outside.png", tex)
	require.Greater(t, st.Coverage, 0.95, "the mirror side fills what is outside")
	require.Greater(t, st.Mirrored, 0.3)
	require.Less(t, st.Mirrored, 0.6)
	// The face's left part (x < 0) is inside the photo and sampled where it
	// is; its right part is outside, and the frontal mirror side fills it.
	// Reference: the same face entirely inside a wider photo.
	ref, _, err := texture.Unwrap(gradient(420, 420), project(m, 0, 20, 210, 210), m, texture.Options{Size: 256})
	require.NoError(t, err)
	left, right := 0, 0
	for k, v := range m.Vertices {
		px := texelAt(tex, m, k)
		switch {
		case v[0] < -3:
			require.Equal(t, texelAt(ref, m, k)[3], px[3], "vertex %d", k)
			if px[3] == 255 {
				checkVertex(t, tex, m, k, lm[k], 5) // 256 texels: coarser
				left++
			}
		case float64(lm[k][0]) > 205 && px[3] == 255:
			checkVertex(t, tex, m, k, lm[m.Mirror[k]], 5)
			right++
		}
	}
	require.Greater(t, left, 50)
	require.Greater(t, right, 40)
}

func TestUnwrapSubImageOffset(t *testing.T) {
	t.Parallel()
	m := models.Canonical()
	full := gradient(510, 510)
	lm := project(m, 0, 20, 255, 250)
	// A sub-image keeps the parent's coordinates: the landmarks still
	// address the same pixels, so the texture is the same.
	sub := full.SubImage(image.Rect(20, 10, 500, 500)).(*image.NRGBA)
	a, _, err := texture.Unwrap(full, lm, m, texture.Options{Size: 256})
	require.NoError(t, err)
	b, _, err := texture.Unwrap(sub, lm, m, texture.Options{Size: 256})
	require.NoError(t, err)
	require.Equal(t, a.Pix, b.Pix)
}

func TestUnwrapConcurrentSizes(t *testing.T) {
	t.Parallel()
	m := models.Canonical()
	img := gradient(510, 510)
	lm := project(m, 20, 20, 255, 250)
	want, _, err := texture.Unwrap(img, lm, m, texture.Options{Size: 300})
	require.NoError(t, err)
	errs := make(chan error, 8)
	res := make(chan *image.NRGBA, 8)
	for range 8 {
		go func() {
			tex, _, err := texture.Unwrap(img, lm, m, texture.Options{Size: 300})
			errs <- err
			res <- tex
		}()
	}
	for range 8 {
		require.NoError(t, <-errs)
		require.Equal(t, want.Pix, (<-res).Pix)
	}
}

func FuzzUnwrap(f *testing.F) {
	m := models.Canonical()
	f.Add(0.0, 20.0, 255.0, 250.0, 0.0)
	f.Add(60.0, 20.0, 255.0, 250.0, 0.0)
	f.Add(-90.0, 1e-6, -5.0, 1e6, 3.0)
	f.Add(180.0, 1e4, 0.0, 0.0, -1.0)
	img := gradient(128, 96)
	f.Fuzz(func(t *testing.T, yaw, s, cx, cy, jitter float64) {
		lm := project(m, yaw, s, cx, cy)
		for i := range lm {
			lm[i][0] += float32(jitter * math.Sin(float64(i)))
			lm[i][1] += float32(jitter * math.Cos(float64(i*7)))
		}
		tex, st, err := texture.Unwrap(img, lm, m, texture.Options{Size: 256})
		if err != nil {
			require.ErrorIs(t, err, texture.ErrInvalidInput)
			return
		}
		require.Equal(t, 256, tex.Rect.Dx())
		require.GreaterOrEqual(t, st.Coverage, 0.0)
		require.LessOrEqual(t, st.Coverage, 1.0)
		require.LessOrEqual(t, st.Mirrored, st.Coverage)
		for i := 3; i < len(tex.Pix); i += 4 {
			if a := tex.Pix[i]; a != 0 && a != 255 {
				t.Fatalf("alpha %d at %d", a, i)
			}
		}
		// The gutter stays within GutterWidth texels of a valid texel.
		g := texture.GutterWidth(256)
		for k, d := range validDistance(tex, g) {
			if p := tex.Pix[k*4 : k*4+4]; d > g && p[0]|p[1]|p[2] != 0 {
				t.Fatalf("texel %d coloured %d texels from a valid one", k, d)
			}
		}
	})
}

// TestUnwrapNeverShowsBackground: a photo that is magenta wherever the
// exactly known face is not (pixel centres outside its silhouette) and
// grey on it; turned up to 60°, the nose hiding part of the far cheek. No
// valid texel may hold any magenta, at any pose, and the shares of seen,
// mirrored and empty texels add up to 1.
func TestUnwrapNeverShowsBackground(t *testing.T) {
	t.Parallel()
	m := models.Canonical()
	for _, yaw := range []float64{0, 35, 50, 60} {
		lm := project(m, yaw, 20, 255, 250)
		img := image.NewNRGBA(image.Rect(0, 0, 510, 510))
		zb := geometry.Rasterize(lm, 510, 510, m.Triangles, 1)
		for y := range 510 {
			for x := range 510 {
				p := img.Pix[y*img.Stride+x*4:]
				p[0], p[1], p[2], p[3] = 255, 0, 255, 255
				if k := zb.Index(float64(x)+0.5, float64(y)+0.5); k >= 0 && zb.Tri[k] >= 0 {
					p[0], p[1], p[2] = 128, 128, 128
				}
			}
		}
		tex, st, err := texture.Unwrap(img, lm, m, texture.Options{Size: 512})
		require.NoError(t, err)
		dump(t, fmt.Sprintf("background-yaw%.0f.png", yaw), tex)
		t.Logf("yaw %.0f: %+v", yaw, st)
		require.InDelta(t, 1, st.Seen+st.Mirrored+st.Empty, 1e-9)
		require.InDelta(t, st.Coverage, st.Seen+st.Mirrored, 1e-9)
		require.Greater(t, st.Coverage, 0.85, "yaw %.0f", yaw)
		if yaw >= 50 {
			require.Greater(t, st.Mirrored, 0.2, "yaw %.0f", yaw)
		}
		tinted := 0
		for k := 0; k < len(tex.Pix); k += 4 {
			if p := tex.Pix[k : k+4]; p[3] == 255 && (p[0] != 128 || p[1] != 128 || p[2] != 128) {
				tinted++
			}
		}
		require.Zero(t, tinted, "valid texels with background colour in them at yaw %.0f", yaw)
	}
}
