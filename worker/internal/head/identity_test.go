package head

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/image/draw"
	"golang.org/x/image/math/f64"

	"github.com/facefleet/facefleet/shared/toolcheck"
	"github.com/facefleet/facefleet/worker/internal/engine"
	"github.com/facefleet/facefleet/worker/internal/pngenc"
)

// ortLibrary is the ONNX Runtime library the engine's tests use.
func ortLibrary() string { return engine.FindLibrary(".") }

var sharedEngine = sync.OnceValues(func() (*engine.Engine, error) {
	return engine.New(engine.Config{LibraryPath: ortLibrary(), IntraOpThreads: 1})
})

func testEngine(t *testing.T) *engine.Engine {
	if ortLibrary() == "" {
		toolcheck.Missing(t, "ONNX Runtime library not found: set %s or run `make setup`", engine.LibraryEnv)
	}
	e, err := sharedEngine()
	require.NoError(t, err)
	return e
}

// transformed returns src rotated by deg about its centre and scaled by s,
// on a canvas big enough to hold it.
func transformed(src *image.NRGBA, deg, s float64) *image.NRGBA {
	b := src.Bounds()
	w, h := float64(b.Dx()), float64(b.Dy())
	c, sn := math.Cos(deg*math.Pi/180)*s, math.Sin(deg*math.Pi/180)*s
	ow := int(math.Abs(c)*w + math.Abs(sn)*h)
	oh := int(math.Abs(sn)*w + math.Abs(c)*h)
	dst := image.NewNRGBA(image.Rect(0, 0, ow, oh))
	// dst = M·src: rotate/scale about the centres.
	m := f64.Aff3{c, -sn, float64(ow)/2 - c*w/2 + sn*h/2, sn, c, float64(oh)/2 - sn*w/2 - c*h/2}
	draw.BiLinear.Transform(dst, m, src, b, draw.Src, nil)
	return dst
}

// fitImage runs the engine and the fit on the single (largest) face of img.
func fitImage(t *testing.T, e *engine.Engine, img *image.NRGBA) *Result {
	ctx := context.Background()
	dets, err := e.Detect(ctx, img, engine.DetectOptions{MaxFaces: 1})
	require.NoError(t, err)
	require.NotEmpty(t, dets)
	faces, err := e.Landmarks(ctx, img, dets)
	require.NoError(t, err)
	require.NotEmpty(t, faces)
	f := faces[0]
	bs := map[string]float32{}
	for i, v := range f.Blendshapes {
		bs[engine.BlendshapeNames[i]] = v
	}
	r, err := Fit(Input{Landmarks: f.Landmarks, Blendshapes: bs, Width: img.Bounds().Dx(), Height: img.Bounds().Dy()})
	require.NoError(t, err)
	return r
}

// TestIdentityAcrossCopies: copies of a photo rotated in the image, resized
// and mirrored, each re-detected and re-landmarked by the engine, give
// identity vectors nearer to each other than to any other person's.
// (Mirroring changes the person's asymmetries, so mirrored copies are
// compared as people of their own: they must not be taken for another.)
func TestIdentityAcrossCopies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the engine on 15 images")
	}
	e := testEngine(t)
	people := []string{"kj_test1", "ddfa_jianzhuguo", "pexels-dinielle-de-veyra-4195444", "pexels-tim-douglas-6567248", "pexels-sam-lion-5709614"}
	copies := []struct {
		name   string
		deg, s float64
	}{{"original", 0, 1}, {"rot+15 ×0.8", 15, 0.8}, {"rot−12 ×0.7", -12, 0.7}}
	type sample struct {
		person int
		label  string
		id     []float64
		err    float64
	}
	var all []sample
	for p, stem := range people {
		photo := fitPhoto(t, stem).photo
		for _, c := range copies {
			r := fitImage(t, e, transformed(photo, c.deg, c.s))
			all = append(all, sample{p, stem + " " + c.name, r.Identity, r.ReprojectionError})
		}
	}
	dist := func(a, b []float64) float64 {
		var d float64
		for k := range a {
			d += (a[k] - b[k]) * (a[k] - b[k])
		}
		return math.Sqrt(d)
	}
	var table strings.Builder
	var worstMargin = math.Inf(1)
	for i, a := range all {
		fmt.Fprintf(&table, "%-46.46s %5.2f%%", a.label, a.err)
		within, between := 0.0, math.Inf(1)
		for j, b := range all {
			d := dist(a.id, b.id)
			fmt.Fprintf(&table, " %4.1f", d)
			switch {
			case i == j:
			case a.person == b.person:
				within = math.Max(within, d)
			default:
				between = math.Min(between, d)
			}
		}
		table.WriteString("\n")
		// Every copy is nearer to each of its own person's copies than to
		// any copy of anyone else.
		require.Less(t, within, between, "%s: farthest own copy %.2f, nearest other person %.2f", a.label, within, between)
		worstMargin = math.Min(worstMargin, between/within)
	}
	t.Logf("identity distances (SD units); smallest ratio nearest-other / farthest-own %.2f\n%s", worstMargin, table.String())
}

// TestFitWinkSides: kj_test2 winks with the subject's right eye (image left;
// see the engine's blendshape test). Fitted from the landmarks alone, ICT's
// eyeBlink_R (the subject's right, x < 0 in ICT's frame) must close more
// than eyeBlink_L, so "_R" and MediaPipe's "Right" are the same side. (The
// converged fit, without the blendshape scores' prior, closes it only
// partly: 0.26 against 0.21.)
func TestFitWinkSides(t *testing.T) {
	for _, f := range loadOracle(t) {
		if f.Stem != "kj_test2" {
			continue
		}
		r, err := Fit(Input{Landmarks: f.Landmarks, Width: f.W, Height: f.H})
		require.NoError(t, err)
		m := loadBasis().m
		l, rr := r.Expression[m.Expression("eyeBlink_L")], r.Expression[m.Expression("eyeBlink_R")]
		t.Logf("kj_test2: eyeBlink_R %.2f, eyeBlink_L %.2f", rr, l)
		require.Greater(t, rr, l+0.04)
		return
	}
	t.Fatal("kj_test2 not among the oracle faces")
}

// renderView is one render of a test person's fitted head and the
// engine's landmarks on it.
type renderView struct {
	person int
	label  string
	yaw    float64
	truth  []float64 // the identity the head was rendered with
	in     Input
}

// renderPeople are the test photos whose fitted heads are rendered, and
// renderYaws the head turns they are rendered at.
var (
	renderPeople = []string{"kj_test1", "ddfa_jianzhuguo", "pexels-tim-douglas-6567248", "pexels-dinielle-de-veyra-4195444", "bf_Test3#1", "kj_test2"}
	renderYaws   = []float64{-35, -20, -10, 0, 10, 20, 35}
)

var renderViewsOnce struct {
	sync.Once
	views []renderView
}

// renderViews renders every test person's fitted head.glb (read back from
// the file bytes: base, sparse targets × weights, embedded texture) at every
// yaw of renderYaws and runs the engine's detector and landmarks on the
// renders (once per test binary).
func renderViews(t *testing.T) []renderView {
	e := testEngine(t)
	renderViewsOnce.Do(func() {
		ctx := context.Background()
		for p, stem := range renderPeople {
			f := fitPhoto(t, stem)
			tex, _ := f.head.BakeTexture(f.photo)
			var pb, glb bytes.Buffer
			require.NoError(t, pngenc.Encode(&pb, tex))
			_, err := f.head.WriteGLB(&glb, pb.Bytes())
			require.NoError(t, err)
			scene := readGLB(t, glb.Bytes())
			for _, yaw := range renderYaws {
				img, _ := scene.render(yaw, 512)
				dets, err := e.Detect(ctx, img, engine.DetectOptions{MaxFaces: 1})
				require.NoError(t, err)
				require.NotEmpty(t, dets, "%s yaw %v: no face found in the render", stem, yaw)
				faces, err := e.Landmarks(ctx, img, dets)
				require.NoError(t, err)
				require.NotEmpty(t, faces)
				bs := map[string]float32{}
				for i, v := range faces[0].Blendshapes {
					bs[engine.BlendshapeNames[i]] = v
				}
				renderViewsOnce.views = append(renderViewsOnce.views, renderView{
					person: p, label: fmt.Sprintf("%s %+.0f°", stem, yaw), yaw: yaw, truth: f.head.Fit.Identity,
					in: Input{Landmarks: faces[0].Landmarks, Blendshapes: bs, Width: img.Bounds().Dx(), Height: img.Bounds().Dy()},
				})
			}
		}
	})
	require.Len(t, renderViewsOnce.views, len(renderPeople)*len(renderYaws), "an earlier test failed while rendering")
	return renderViewsOnce.views
}

// TestRenderPoseRecovered fits the renders of every test person's head at
// yaws −35° … +35° (renderViews): the fit must recover the rendered yaw
// within 3° (5° at ±35°) at under 2.5 % IOD.
func TestRenderPoseRecovered(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the engine on 42 renders")
	}
	for _, v := range renderViews(t) {
		r, err := Fit(v.in)
		require.NoError(t, err)
		t.Logf("%-40s fitted yaw %+5.1f, reprojection %.2f %% IOD", v.label, r.Pose.Yaw, r.ReprojectionError)
		tol := 3.0
		if math.Abs(v.yaw) > 20 {
			tol = 5 // two of the twelve ±35° renders come out 4° flatter
		}
		require.InDelta(t, v.yaw, r.Pose.Yaw, tol, v.label)
		require.Less(t, r.ReprojectionError, 2.5, v.label)
	}
}

// identityDistance is the Euclidean distance of two identity vectors (SD units).
func identityDistance(a, b []float64) float64 {
	var d float64
	for k := range a {
		d += (a[k] - b[k]) * (a[k] - b[k])
	}
	return math.Sqrt(d)
}

// TestIdentityAcrossYaw: the identities fitted to renders of one person's
// head turned −35° … +35° are closer to each other than to other people's.
// Asserted per view: its mean distance to the same person's other views is
// below its mean distance to other people's views, the means over all
// views are at least 1.25× apart, and the nearest other view is the same
// person's for at least 3 views in 4. Not asserted, logged: whether every
// own view is nearer than every other person's (it is not — one 10° turn
// moves an identity by about as much as the nearest other person's: the
// landmarks carry about 1 SD of noise per view and a bias with |yaw|).
func TestIdentityAcrossYaw(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the engine on 42 renders")
	}
	views := renderViews(t)
	ids := make([][]float64, len(views))
	for i, v := range views {
		r, err := Fit(v.in)
		require.NoError(t, err)
		ids[i] = r.Identity
	}
	var table strings.Builder
	fmt.Fprintf(&table, "%-40s %8s %8s %8s %8s %7s\n", "view", "mean own", "mean oth", "far own", "near oth", "|id-gt|")
	var sumOwn, sumOther, nOwn, nOther float64
	nnSame, strict := 0, 0
	for i, a := range views {
		var own, other, cOwn, cOther float64
		far, near, nn, nnD := 0.0, math.Inf(1), -1, math.Inf(1)
		for j, b := range views {
			if i == j {
				continue
			}
			d := identityDistance(ids[i], ids[j])
			if d < nnD {
				nn, nnD = j, d
			}
			if a.person == b.person {
				own, cOwn, far = own+d, cOwn+1, math.Max(far, d)
			} else {
				other, cOther, near = other+d, cOther+1, math.Min(near, d)
			}
		}
		sumOwn, sumOther, nOwn, nOther = sumOwn+own, sumOther+other, nOwn+cOwn, nOther+cOther
		if views[nn].person == a.person {
			nnSame++
		}
		if far < near {
			strict++
		}
		fmt.Fprintf(&table, "%-40s %8.2f %8.2f %8.2f %8.2f %7.2f\n", a.label, own/cOwn, other/cOther, far, near, identityDistance(ids[i], a.truth))
		require.Less(t, own/cOwn, other/cOther, "%s: mean distance to its own views, to other people's", a.label)
	}
	t.Logf("identity distances (SD units) of %d renders: mean own %.2f, mean other %.2f; nearest view the same person's for %d/%d; every own view nearer than every other person's for %d/%d\n%s",
		len(views), sumOwn/nOwn, sumOther/nOther, nnSame, len(views), strict, len(views), table.String())
	require.GreaterOrEqual(t, (sumOther/nOther)/(sumOwn/nOwn), 1.25)
	require.GreaterOrEqual(t, 4*nnSame, 3*len(views))
}
