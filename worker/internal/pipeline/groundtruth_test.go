package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/models/facemesh"
	"github.com/facefleet/facefleet/shared/testkit"
	"github.com/facefleet/facefleet/worker/internal/geometry"
	"github.com/facefleet/facefleet/worker/internal/imagedecode"
	"github.com/facefleet/facefleet/worker/internal/texture"
)

// The ground-truth texture test renders MediaPipe's canonical mesh, textured
// with a known face texture, at known poses onto a flat magenta background,
// runs the whole pipeline on each render and compares the uv_texture it
// produces with the known texture on the texels the render shows.

var regenKnown = flag.Bool("groundtruth.regen", false,
	"rewrite the known textures testdata/groundtruth_*.png from their frontal photos")

// knownTextures are the known textures: each the pipeline's uv_texture of a
// frontal photo of worker/internal/engine/testdata (at gtUVSize, empty
// texels filled from their neighbours; -groundtruth.regen remakes them).
var knownTextures = []struct{ photo, file string }{
	{"pexels-dinielle-de-veyra-4195444.jpg", "testdata/groundtruth_dinielle.png"},
	{"pexels-sam-lion-5709614.jpg", "testdata/groundtruth_sam-lion.png"},
}

const (
	gtUVSize = 512 // the known textures' and the produced textures' size

	gtImage    = 768  // render width and height in pixels
	gtSuper    = 2    // supersampling per axis (anti-aliased edges)
	gtDistance = 50.0 // camera to model origin, cm (perspective)
	gtScale    = 26.0 // pixels per cm at the model origin's depth
)

// gtMagenta is the render background: a colour no skin has.
var gtMagenta = color.NRGBA{255, 0, 255, 255}

// gtPose is one rendered head pose in geometry's conventions (degrees; yaw
// > 0 turns the subject towards the image's right, pitch > 0 looks up).
type gtPose struct{ yaw, pitch float64 }

func (p gtPose) String() string { return fmt.Sprintf("yaw %+3.0f pitch %+3.0f", p.yaw, p.pitch) }

var gtPoses = []gtPose{
	{0, 0}, {20, 0}, {-20, 0}, {35, 0}, {-35, 0}, {50, 0}, {-50, 0},
	{0, 20}, {0, -20},
	{20, 20}, {-20, -20}, {35, -20}, {-35, 20},
}

// gtRotation is the model → camera rotation of pose p: geometry's
// C·diag(1, −1, −1) with C = Ry(−yaw)·Rx(−pitch), right-handed rotations
// about the camera axes (x right, y down, z forward).
func gtRotation(p gtPose) [3][3]float64 {
	a, b := -p.yaw*math.Pi/180, -p.pitch*math.Pi/180
	ry := [3][3]float64{{math.Cos(a), 0, math.Sin(a)}, {0, 1, 0}, {-math.Sin(a), 0, math.Cos(a)}}
	rx := [3][3]float64{{1, 0, 0}, {0, math.Cos(b), -math.Sin(b)}, {0, math.Sin(b), math.Cos(b)}}
	flip := [3][3]float64{{1, 0, 0}, {0, -1, 0}, {0, 0, -1}}
	return mul3(mul3(ry, rx), flip)
}

func mul3(a, b [3][3]float64) [3][3]float64 {
	var c [3][3]float64
	for i := range 3 {
		for j := range 3 {
			for k := range 3 {
				c[i][j] += a[i][k] * b[k][j]
			}
		}
	}
	return c
}

// gtScene is the canonical mesh posed and projected: screen positions
// (pixels, x right, y down) with z = camera depth in pixels (smaller =
// nearer), and the depth in cm for perspective-correct interpolation.
type gtScene struct {
	screen [][3]float32
	depth  []float64
}

func projectMesh(mesh *facemesh.Mesh, p gtPose) gtScene {
	r := gtRotation(p)
	f := gtScale * gtDistance // focal length in pixels
	s := gtScene{screen: make([][3]float32, len(mesh.Vertices)), depth: make([]float64, len(mesh.Vertices))}
	for i, v := range mesh.Vertices {
		var c [3]float64
		for k := range 3 {
			c[k] = r[k][0]*float64(v[0]) + r[k][1]*float64(v[1]) + r[k][2]*float64(v[2])
		}
		z := c[2] + gtDistance
		s.depth[i] = z
		s.screen[i] = [3]float32{
			float32(f*c[0]/z + gtImage/2),
			float32(f*c[1]/z + gtImage/2),
			float32(z * gtScale),
		}
	}
	return s
}

// bary returns the barycentric weights of (x, y) in triangle a, b, c.
func bary(a, b, c [3]float32, x, y float64) (w0, w1, w2 float64) {
	ax, ay, bx, by, cx, cy := float64(a[0]), float64(a[1]), float64(b[0]), float64(b[1]), float64(c[0]), float64(c[1])
	d := (bx-ax)*(cy-ay) - (by-ay)*(cx-ax)
	w1 = ((x-ax)*(cy-ay) - (y-ay)*(cx-ax)) / d
	w2 = ((bx-ax)*(y-ay) - (by-ay)*(x-ax)) / d
	return 1 - w1 - w2, w1, w2
}

// bilinear samples tex at texel coordinates (x, y) (texel i covers
// [i, i+1)), clamped at the borders.
func bilinear(tex *image.NRGBA, x, y float64) [3]float64 {
	w, h := tex.Rect.Dx(), tex.Rect.Dy()
	x = min(max(x-0.5, 0), float64(w-1))
	y = min(max(y-0.5, 0), float64(h-1))
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, w-1), min(y0+1, h-1)
	fx, fy := x-float64(x0), y-float64(y0)
	var out [3]float64
	for c := range 3 {
		p := func(i, j int) float64 { return float64(tex.Pix[j*tex.Stride+i*4+c]) }
		out[c] = (p(x0, y0)*(1-fx)+p(x1, y0)*fx)*(1-fy) + (p(x0, y1)*(1-fx)+p(x1, y1)*fx)*fy
	}
	return out
}

// render draws the mesh textured with tex onto magenta: a z-buffer on a
// gtSuper× grid (geometry.Rasterize), perspective-correct UVs, bilinear
// texture lookups, box-filtered down to gtImage².
func render(mesh *facemesh.Mesh, s gtScene, tex *image.NRGBA) *image.NRGBA {
	zb := geometry.Rasterize(s.screen, gtImage, gtImage, mesh.Triangles, gtSuper)
	img := image.NewNRGBA(image.Rect(0, 0, gtImage, gtImage))
	tw, th := float64(tex.Rect.Dx()), float64(tex.Rect.Dy())
	for y := range gtImage {
		for x := range gtImage {
			var acc [3]float64
			for sy := range gtSuper {
				for sx := range gtSuper {
					px := (float64(x*gtSuper+sx) + 0.5) / gtSuper
					py := (float64(y*gtSuper+sy) + 0.5) / gtSuper
					c := [3]float64{float64(gtMagenta.R), float64(gtMagenta.G), float64(gtMagenta.B)}
					if k := zb.Index(px, py); k >= 0 && zb.Tri[k] >= 0 {
						t := mesh.Triangles[zb.Tri[k]]
						w0, w1, w2 := bary(s.screen[t[0]], s.screen[t[1]], s.screen[t[2]], px, py)
						// Perspective-correct: weights over depth, renormalised.
						w0, w1, w2 = w0/s.depth[t[0]], w1/s.depth[t[1]], w2/s.depth[t[2]]
						n := w0 + w1 + w2
						u := (w0*float64(mesh.UV[t[0]][0]) + w1*float64(mesh.UV[t[1]][0]) + w2*float64(mesh.UV[t[2]][0])) / n
						v := (w0*float64(mesh.UV[t[0]][1]) + w1*float64(mesh.UV[t[1]][1]) + w2*float64(mesh.UV[t[2]][1])) / n
						c = bilinear(tex, u*tw, v*th)
					}
					for k := range 3 {
						acc[k] += c[k]
					}
				}
			}
			o := img.Pix[y*img.Stride+x*4:]
			for k := range 3 {
				o[k] = uint8(math.Round(acc[k] / (gtSuper * gtSuper)))
			}
			o[3] = 255
		}
	}
	return img
}

// uvLayout maps each texel of a size² texture to its mesh triangle (−1
// outside the layout) and the texel centre's barycentrics in it.
type uvLayout struct {
	size int
	tri  []int32
	b    [][3]float64
}

func newUVLayout(mesh *facemesh.Mesh, size int) uvLayout {
	uv := make([][3]float32, len(mesh.UV))
	for i, p := range mesh.UV {
		uv[i] = [3]float32{p[0] * float32(size), p[1] * float32(size), 0}
	}
	zb := geometry.Rasterize(uv, size, size, mesh.Triangles, 1)
	l := uvLayout{size: size, tri: make([]int32, size*size), b: make([][3]float64, size*size)}
	for j := range size {
		for i := range size {
			k := j*size + i
			l.tri[k] = -1
			if z := zb.Index(float64(i)+0.5, float64(j)+0.5); z >= 0 && zb.Tri[z] >= 0 {
				t := mesh.Triangles[zb.Tri[z]]
				l.tri[k] = zb.Tri[z]
				w0, w1, w2 := bary(uv[t[0]], uv[t[1]], uv[t[2]], float64(i)+0.5, float64(j)+0.5)
				l.b[k] = [3]float64{w0, w1, w2}
			}
		}
	}
	return l
}

// visibleTexels marks the texels whose surface point the render shows: the
// triangle faces the camera and the point is the front-most surface at its
// pixel (the z-buffer holds its own triangle, one sharing a vertex with
// it, or a depth within a quarter pixel).
func visibleTexels(mesh *facemesh.Mesh, s gtScene, l uvLayout) []bool {
	zb := geometry.Rasterize(s.screen, gtImage, gtImage, mesh.Triangles, gtSuper)
	vis := make([]bool, len(l.tri))
	front := make([]bool, len(mesh.Triangles))
	for t, tri := range mesh.Triangles {
		a, b, c := s.screen[tri[0]], s.screen[tri[1]], s.screen[tri[2]]
		ua, ub, uc := mesh.UV[tri[0]], mesh.UV[tri[1]], mesh.UV[tri[2]]
		img := float64(b[0]-a[0])*float64(c[1]-a[1]) - float64(b[1]-a[1])*float64(c[0]-a[0])
		uv := float64(ub[0]-ua[0])*float64(uc[1]-ua[1]) - float64(ub[1]-ua[1])*float64(uc[0]-ua[0])
		front[t] = img*uv > 0
	}
	shares := func(t, u [3]uint16) bool {
		for _, a := range t {
			for _, b := range u {
				if a == b {
					return true
				}
			}
		}
		return false
	}
	for k, t := range l.tri {
		if t < 0 || !front[t] {
			continue
		}
		tri, b := mesh.Triangles[t], l.b[k]
		var p [3]float64
		for c := range 3 {
			p[c] = b[0]*float64(s.screen[tri[0]][c]) + b[1]*float64(s.screen[tri[1]][c]) + b[2]*float64(s.screen[tri[2]][c])
		}
		z := zb.Index(p[0], p[1])
		if z < 0 || zb.Tri[z] < 0 {
			continue
		}
		vis[k] = zb.Tri[z] == t || shares(tri, mesh.Triangles[zb.Tri[z]]) || p[2] <= float64(zb.Z[z])+0.25
	}
	return vis
}

// gtScore compares a produced texture with the known one.
type gtScore struct {
	visible int     // texels the render shows
	recall  float64 // share of them valid (alpha 255) in the output
	psnr    float64 // dB over the visible, valid texels
	valid   int     // valid texels in the output
	bgShare float64 // share of valid texels with background colour in them
	empty   float64 // share of the layout's texels left empty
}

// magentaish reports whether c has the background in it: red and blue both
// well above green, which no skin, hair or lighting change of the known
// texture has (a quarter of magenta mixed into skin already shows).
func magentaish(c [3]float64) bool {
	return c[0]-c[1] > 48 && c[2]-c[1] > 48
}

func score(got, want *image.NRGBA, l uvLayout, vis []bool) gtScore {
	var s gtScore
	var se float64
	var n, inside, seenOK int
	px := func(img *image.NRGBA, k int) ([3]float64, uint8) {
		o := img.Pix[(k/l.size)*img.Stride+(k%l.size)*4:]
		return [3]float64{float64(o[0]), float64(o[1]), float64(o[2])}, o[3]
	}
	for k, t := range l.tri {
		if t < 0 {
			continue
		}
		inside++
		g, a := px(got, k)
		w, _ := px(want, k)
		if vis[k] {
			s.visible++
		}
		if a != 255 {
			continue
		}
		s.valid++
		if magentaish(g) {
			s.bgShare++
		}
		if vis[k] {
			seenOK++
			for c := range 3 {
				se += (g[c] - w[c]) * (g[c] - w[c])
			}
			n += 3
		}
	}
	if s.visible > 0 {
		s.recall = float64(seenOK) / float64(s.visible)
	}
	if n > 0 {
		s.psnr = 10 * math.Log10(255*255/(se/float64(n)))
	}
	if s.valid > 0 {
		s.bgShare /= float64(s.valid)
	}
	if inside > 0 {
		s.empty = 1 - float64(s.valid)/float64(inside)
	}
	return s
}

// oracleLandmarks reads MediaPipe's own landmarks for the render name from
// $FACEFLEET_GROUNDTRUTH_ORACLE/<name>_render.json (shared/tools/
// mediapipe-oracle run on the renders FACEFLEET_GROUNDTRUTH_DUMP wrote), or
// returns nil: a diagnostic of what landmark parity would give.
func oracleLandmarks(t testing.TB, name string) [][3]float32 {
	dir := os.Getenv("FACEFLEET_GROUNDTRUTH_ORACLE")
	if dir == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(dir, name+"_render.json"))
	if err != nil {
		return nil
	}
	var o struct {
		Faces []struct {
			Landmarks [][3]float32 `json:"landmarks"`
		} `json:"faces"`
	}
	require.NoError(t, json.Unmarshal(b, &o))
	if len(o.Faces) != 1 || len(o.Faces[0].Landmarks) < 468 {
		return nil
	}
	return o.Faces[0].Landmarks[:468]
}

// landmarkError is the mean 2D distance between got and want over the
// inter-ocular distance |p33 − p263| of want, and the mean signed offset
// in pixels.
func landmarkError(got, want [][3]float32) (rel, dx, dy float64) {
	var sum float64
	for i := range want {
		ex, ey := float64(got[i][0]-want[i][0]), float64(got[i][1]-want[i][1])
		sum += math.Hypot(ex, ey)
		dx += ex
		dy += ey
	}
	n := float64(len(want))
	iod := math.Hypot(float64(want[33][0]-want[263][0]), float64(want[33][1]-want[263][1]))
	return sum / n / iod, dx / n, dy / n
}

func readNRGBA(t testing.TB, b []byte) *image.NRGBA {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	require.NoError(t, err)
	if n, ok := img.(*image.NRGBA); ok {
		return n
	}
	out := image.NewNRGBA(img.Bounds())
	for y := range img.Bounds().Dy() {
		for x := range img.Bounds().Dx() {
			out.Set(x, y, img.At(x, y))
		}
	}
	return out
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

// gtDump writes img under $FACEFLEET_GROUNDTRUTH_DUMP (if set) for a look.
func gtDump(t testing.TB, name string, img image.Image) {
	dir := os.Getenv("FACEFLEET_GROUNDTRUTH_DUMP")
	if dir == "" {
		return
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), encodePNG(t, img), 0o644))
}

// fillHoles gives every texel with alpha < 255 the mean colour of its
// already filled 8-neighbours, ring by ring, until the image is opaque, and
// then smooths the filled texels (box passes over them alone), so the fill
// is a soft continuation instead of radiating streaks.
func fillHoles(img *image.NRGBA) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	filled := make([]bool, w*h)
	for {
		type fill struct {
			k   int
			rgb [3]uint8
		}
		var fills []fill
		holes := 0
		for y := range h {
			for x := range w {
				if img.Pix[y*img.Stride+x*4+3] == 255 {
					continue
				}
				holes++
				var sum [3]int
				n := 0
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						nx, ny := x+dx, y+dy
						if nx < 0 || ny < 0 || nx >= w || ny >= h {
							continue
						}
						if o := img.Pix[ny*img.Stride+nx*4:]; o[3] == 255 {
							for c := range 3 {
								sum[c] += int(o[c])
							}
							n++
						}
					}
				}
				if n > 0 {
					fills = append(fills, fill{y*w + x, [3]uint8{uint8(sum[0] / n), uint8(sum[1] / n), uint8(sum[2] / n)}})
				}
			}
		}
		if holes == 0 || len(fills) == 0 {
			break // done, or an image with no opaque texel at all
		}
		for _, f := range fills {
			o := img.Pix[(f.k/w)*img.Stride+(f.k%w)*4:]
			o[0], o[1], o[2], o[3] = f.rgb[0], f.rgb[1], f.rgb[2], 255
			filled[f.k] = true
		}
	}
	for range 16 {
		src := slices.Clone(img.Pix)
		for y := range h {
			for x := range w {
				if !filled[y*w+x] {
					continue
				}
				var sum [3]int
				n := 0
				for ny := max(y-1, 0); ny <= min(y+1, h-1); ny++ {
					for nx := max(x-1, 0); nx <= min(x+1, w-1); nx++ {
						o := src[ny*img.Stride+nx*4:]
						for c := range 3 {
							sum[c] += int(o[c])
						}
						n++
					}
				}
				o := img.Pix[y*img.Stride+x*4:]
				for c := range 3 {
					o[c] = uint8((sum[c] + n/2) / n)
				}
			}
		}
	}
}

// knownTexture returns the known texture in file, regenerating it first
// from photo with -groundtruth.regen.
func knownTexture(t *testing.T, p *Pipeline, photo, file string) *image.NRGBA {
	path := filepath.Join(testkit.ModuleRoot(t), "worker", "internal", "pipeline", file)
	if *regenKnown {
		data, err := os.ReadFile(filepath.Join(testkit.ModuleRoot(t), "worker", "internal", "engine", "testdata", photo))
		require.NoError(t, err)
		out, err := p.Run(context.Background(), data, Options{UVSize: gtUVSize, MaxFaces: 1}, nil)
		require.NoError(t, err)
		require.Len(t, out.Result.Faces, 1)
		var tex *image.NRGBA
		for _, f := range out.Files {
			if f.Path == out.Result.Faces[0].Files[FileUVTexture] {
				tex = readNRGBA(t, f.Data)
			}
		}
		require.NotNil(t, tex)
		fillHoles(tex)
		require.NoError(t, os.WriteFile(path, encodePNG(t, tex), 0o644))
	}
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	tex := readNRGBA(t, b)
	require.Equal(t, image.Rect(0, 0, gtUVSize, gtUVSize), tex.Rect)
	return tex
}

// TestGroundTruthTexture renders the canonical mesh with each known
// texture at every pose of gtPoses onto magenta, runs the pipeline on the
// renders and checks the faces found, the texture's fidelity on the texels
// the render shows, the absence of background colour in it and the
// estimated pose. It prints a table per known texture.
//
// The texture stage is held to the bar with exact landmarks (the
// render's own vertices): PSNR ≥ 22 dB on the visible texels and at most
// 0.5% of the valid texels with background in them, at every pose. With
// the landmark model's landmarks that bar holds only where they are close
// to the truth (within 4% of the inter-ocular distance: background ≤ 0.5%);
// elsewhere the model misplaces the headless renders' landmarks by up to
// 19% IOD, and MediaPipe's own solution does the same (shared/tools/
// mediapipe-oracle run on these renders, FACEFLEET_GROUNDTRUTH_ORACLE: the
// same landmarks within 0.1% IOD, the same 16–25 dB), so there the test
// only guards against regressions: background ≤ 4%, PSNR ≥ 15 dB. The pose
// error (weak-perspective Procrustes on a perspective render) is printed
// and bounded at 6° yaw and 12° pitch.
func TestGroundTruthTexture(t *testing.T) {
	eng := realEngine(t)
	p := New(eng, imagedecode.Limits{}, testkit.Logger(t))
	mesh := models.Canonical()
	layout := newUVLayout(mesh, gtUVSize)
	for _, kt := range knownTextures {
		t.Run(strings.TrimSuffix(kt.photo, ".jpg"), func(t *testing.T) {
			groundTruth(t, p, mesh, layout, knownTexture(t, p, kt.photo, kt.file), strings.TrimSuffix(filepath.Base(kt.file), ".png"))
		})
	}
}

// groundTruth runs the test for one known texture; prefix names its dumps.
func groundTruth(t *testing.T, p *Pipeline, mesh *facemesh.Mesh, layout uvLayout, known *image.NRGBA, prefix string) {
	type row struct {
		pose        gtPose
		found       bool
		s           gtScore // the pipeline's texture
		mirrored    float64
		truth       gtScore  // the texture unwrapped with the rendered landmarks
		oracle      *gtScore // with MediaPipe's own landmarks, when given
		oracleErr   float64  // MediaPipe's landmarks against the truth, / IOD
		oracleLm    [][3]float32
		lm          [][3]float32 // the pipeline's
		lmErr       float64      // mean 2D landmark error / inter-ocular distance
		lmDX, lmDY  float64      // mean signed landmark offset, px
		yaw, pitch  float64
		errY, errPt float64
		// FitPose on the exact landmarks: what weak perspective alone costs.
		exErrY, exErrPt float64
	}
	var rows []row
	for _, pose := range gtPoses {
		scene := projectMesh(mesh, pose)
		img := render(mesh, scene, known)
		name := fmt.Sprintf("%s_yaw%+03.0f_pitch%+03.0f", prefix, pose.yaw, pose.pitch)
		gtDump(t, name+"_render.png", img)
		out, err := p.Run(context.Background(), encodePNG(t, img), Options{UVSize: gtUVSize, Geometry: true, MaxFaces: 1}, nil)
		require.NoError(t, err, pose)
		r := row{pose: pose}
		vis := visibleTexels(mesh, scene, layout)
		// The texture stage alone, with exact landmarks.
		tex, _, err := texture.Unwrap(img, scene.screen, mesh, texture.Options{Size: gtUVSize})
		require.NoError(t, err)
		r.truth = score(tex, known, layout, vis)
		exact, err := geometry.FitPose(scene.screen, gtImage, gtImage, mesh)
		require.NoError(t, err)
		r.exErrY, r.exErrPt = exact.Yaw-pose.yaw, exact.Pitch-pose.pitch
		if lm := oracleLandmarks(t, name); lm != nil {
			tex, _, err := texture.Unwrap(img, lm, mesh, texture.Options{Size: gtUVSize})
			require.NoError(t, err)
			sc := score(tex, known, layout, vis)
			r.oracle = &sc
			r.oracleErr, _, _ = landmarkError(lm, scene.screen)
			r.oracleLm = lm
		}
		if len(out.Result.Faces) == 1 {
			f := out.Result.Faces[0]
			var tex *image.NRGBA
			for _, file := range out.Files {
				if file.Path == f.Files[FileUVTexture] {
					tex = readNRGBA(t, file.Data)
				}
			}
			require.NotNil(t, tex)
			gtDump(t, name+"_uv.png", tex)
			r.found = true
			r.lmErr, r.lmDX, r.lmDY = landmarkError(f.Landmarks, scene.screen)
			r.lm = f.Landmarks
			r.s = score(tex, known, layout, vis)
			r.mirrored = f.Texture.Mirrored
			if f.Pose != nil {
				r.yaw, r.pitch = f.Pose.Yaw, f.Pose.Pitch
				r.errY, r.errPt = f.Pose.Yaw-pose.yaw, f.Pose.Pitch-pose.pitch
			}
		}
		out.Release()
		rows = append(rows, r)
	}

	var tab strings.Builder
	fmt.Fprintf(&tab, "\n%-20s %5s %7s %11s %8s %8s %7s %7s %7s %8s %12s %12s | exact landmarks: %6s %7s %7s %11s\n",
		"pose", "face", "lm/IOD", "lm dx,dy", "visible", "recall", "PSNR", "bg%", "empty", "mirrored", "yaw(err)", "pitch(err)", "recall", "PSNR", "bg%", "pose err")
	for _, r := range rows {
		if !r.found {
			fmt.Fprintf(&tab, "%-20s %5s\n", r.pose, "none")
			continue
		}
		fmt.Fprintf(&tab, "%-20s %5s %6.1f%% %+5.1f,%+5.1f %8d %7.1f%% %7.2f %6.2f%% %6.1f%% %7.1f%% %+6.1f(%+4.1f) %+6.1f(%+4.1f) | %22.1f%% %7.2f %6.2f%% %+5.1f,%+5.1f\n",
			r.pose, "yes", 100*r.lmErr, r.lmDX, r.lmDY, r.s.visible, 100*r.s.recall, r.s.psnr, 100*r.s.bgShare, 100*r.s.empty, 100*r.mirrored,
			r.yaw, r.errY, r.pitch, r.errPt, 100*r.truth.recall, r.truth.psnr, 100*r.truth.bgShare, r.exErrY, r.exErrPt)
	}
	for _, r := range rows {
		if r.oracle != nil && r.lm != nil {
			vs, _, _ := landmarkError(r.lm, r.oracleLm)
			fmt.Fprintf(&tab, "%-20s MediaPipe's landmarks: lm/IOD %.1f%% PSNR %.2f bg %.2f%%; pipeline vs MediaPipe %.2f%% IOD\n",
				r.pose, 100*r.oracleErr, r.oracle.psnr, 100*r.oracle.bgShare, 100*vs)
		}
	}
	t.Log(tab.String())

	found, beyond := 0, 0
	for _, r := range rows {
		// The texture stage with exact landmarks, at every pose.
		require.GreaterOrEqual(t, r.truth.psnr, 22.0, "PSNR with exact landmarks at %v", r.pose)
		require.LessOrEqual(t, r.truth.bgShare, 0.005, "background-coloured texels with exact landmarks at %v", r.pose)
		require.Greater(t, r.truth.recall, 0.8, "visible texels left empty with exact landmarks at %v", r.pose)
		if math.Abs(r.pose.yaw) <= 35 {
			require.True(t, r.found, "no face at %v", r.pose)
		} else {
			beyond++
			if r.found {
				found++
			}
		}
		if !r.found {
			continue
		}
		bgMax := 0.005
		if r.lmErr > 0.04 {
			bgMax = 0.04
		}
		require.LessOrEqual(t, r.s.bgShare, bgMax, "background-coloured texels at %v (landmarks off by %.1f%% IOD)", r.pose, 100*r.lmErr)
		require.GreaterOrEqual(t, r.s.psnr, 15.0, "PSNR at %v", r.pose)
		require.Greater(t, r.s.recall, 0.75, "visible texels left empty at %v", r.pose)
		require.InDelta(t, 0, r.errY, 6, "yaw error at %v", r.pose)
		require.InDelta(t, 0, r.errPt, 12, "pitch error at %v", r.pose)
	}
	require.Greater(t, 2*found, beyond, "faces found beyond ±35°")
}
