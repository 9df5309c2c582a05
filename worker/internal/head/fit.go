// Package head fits ICT-FaceKit's full-head morphable model (models/ict) to
// the FaceMesh landmarks of one face and writes the fitted head: a glTF
// binary with the 53 expressions as morph targets, OBJ/MTL, and the photo
// baked into ICT's UV layout.
//
// # Fit
//
// Each MediaPipe landmark i (0..467) is a fixed ICT surface point (the
// derived correspondence of models/ict). The model point is linear in the
// coefficients c = (identity[100], expression[53]):
//
//	p_i(c) = P0_i + B_i·c            (cm, ICT/canonical frame)
//	landmark_i ≈ s·R·p_i(c) + t       (pixels; weak perspective)
//
// Fit runs a fixed number of rounds of (1) the similarity (s, R, t) by
// weighted 3D Procrustes onto the landmarks (x, y and MediaPipe's z, which
// is on x's scale), (2) visibility weights from the pose (a landmark whose
// surface normal turns away from the camera gets weight → 0, so a profile's
// hallucinated far side does not pull the fit), and (3) the coefficients by
// regularised linear least squares: identity with its N(0, 1) prior,
// expressions bounded to [0, 1] (active set) with a prior towards the
// blendshape scores (MediaPipe eyeBlinkLeft ↔ ICT eyeBlink_L …; zero when
// there are none). z residuals count ZWeight as much as x and y, the face
// oval's landmarks ContourWeight as much as the others in step 3.
//
// Step 3 solves for the coefficients together with a first-order update of
// the pose (which it then drops: step 1 of the next round is the pose), so
// identity does not take up what a small turn, shift or zoom of the head
// explains. Alternating pose and coefficients alone converges slowly (after
// 10 rounds identities were still up to 1.9 SD from the optimum); the joint
// step converges in 5 (TestFitConverges). The unbounded identity and pose are
// eliminated by a partial Cholesky factorisation, and the bounded
// expressions solved on the 53×53 Schur complement. Only the basis rows of
// the 468 correspondence points and the 68 iBUG vertices are evaluated
// (basis, built once per process); the full mesh is Build's.
//
// The reprojection error is the visibility-weighted mean 2D distance between
// the landmarks and the projected model points, in % of the interocular
// distance (outer eye corners 33–263 as in the engine's metrics, measured in
// 3D so it does not shrink on profiles). Above PoorFitPercent the result is flagged Poor: the
// head is still a plausible head (the priors keep it one) but it does not
// follow the photo closely; callers report it and keep the outputs.
//
// # Identity
//
// The identity coefficients are a shape fit, not a biometric. They are
// stable under in-plane rotation, resizing and re-detection of a photo
// (TestIdentityAcrossCopies: copies of one person are at least 1.7× nearer
// each other than anyone else). Across head turns they are closer within a
// person than between people on average, not pair by pair
// (TestIdentityAcrossYaw: renders of six fitted heads at −35° … +35° yaw;
// mean distance to the same head's other views 2.6 SD, to other heads' 3.7;
// the nearest view is the same head's for 37 of 42): the landmarks carry
// about 1 SD of identity noise per view and a bias that grows with |yaw|
// and is shared by all heads (MediaPipe's landmarks of a turned face, its
// depth in particular, are not those of the same surface points turned).
package head

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/models/ict"
	"github.com/facefleet/facefleet/worker/internal/geometry"
)

// ErrInvalidInput is returned for landmarks or image sizes the fit cannot use.
var ErrInvalidInput = errors.New("head: invalid input")

// NumLandmarks is the number of FaceMesh landmarks the fit uses (iris points
// 468..477, when present, are not part of the correspondence).
const NumLandmarks = 468

// npose is the number of pose unknowns of the joint step (rotation 3,
// scale 1, translation 3).
const npose = 7

// Fit parameters.
const (
	Rounds         = 5    // rounds of pose and coefficients (converged: TestFitConverges)
	IdentityPrior  = 0.1  // cm² per SD²: weight of |identity|²
	ExpressionPull = 0.01 // cm²: weight of |expression − blendshape scores|²
	ZWeight        = 0.5  // weight of z residuals relative to x and y
	// ZScale stretches MediaPipe's z before the fit: its depth is flatter
	// than ICT's, which biased the fitted yaw of ICT renders at ±25° by
	// 2–4° towards frontal; × 1.15 makes it unbiased within ±2°
	// (TestRenderPoseRecovered).
	ZScale         = 1.15
	PoorFitPercent = 5.0 // reprojection error (% IOD) above which a fit is Poor
	// ContourWeight scales the face oval's landmarks in the coefficient
	// step: on a turned face they trace the silhouette, not fixed surface
	// points, and pulled identity with the head's yaw (renders of one head
	// at ±35° yaw: within-person distances 3.03 → 2.71 SD at 0.3).
	ContourWeight = 0.3
)

// Input is one face.
type Input struct {
	// Landmarks in image pixels (x right, y down, z on x's scale), 468 or 478.
	Landmarks [][3]float32
	// Blendshapes are MediaPipe's ARKit scores by name (may be empty).
	Blendshapes map[string]float32
	// Width and Height are the image size in pixels.
	Width, Height int
}

// Result is the fitted head.
type Result struct {
	Identity   []float64 // 100, units of one SD
	Expression []float64 // 53 in [0, 1], in ict.Model.Expressions order
	Pose       geometry.Pose
	// Landmarks68 are ICT's 68 iBUG vertices of the fitted head projected to
	// image pixels ([x, y, z] like the landmarks).
	Landmarks68 [][3]float32
	// ReprojectionError is the mean 2D landmark error in % of the IOD.
	ReprojectionError float64
	// Poor reports ReprojectionError > PoorFitPercent.
	Poor bool
	// Visible is the fraction of landmarks with visibility weight ≥ 0.5.
	Visible float64
	// Irises are the two iris centres and radii in pixels (landmarks 468 and
	// 473 with the mean distance to their four ring points), when the input
	// has 478 landmarks.
	Irises [][3]float64
	// landmarks2D are the input's 468 points in pixels (the texture bake
	// samples the photo inside their convex hull only).
	landmarks2D [][2]float64
}

// ExpressionNames maps the fitted expression to ICT's names.
func (r *Result) ExpressionNames(m *ict.Model) map[string]float64 {
	out := make(map[string]float64, len(r.Expression))
	for j, w := range r.Expression {
		out[m.Expressions[j].Name] = w
	}
	return out
}

// BlendshapeName maps an ICT expression name to MediaPipe's blendshape name:
// eyeBlink_L → eyeBlinkLeft, jawOpen → jawOpen. ICT splits browInnerUp and
// cheekPuff into _L/_R; both halves read MediaPipe's single score.
func BlendshapeName(ictName string) string {
	switch {
	case strings.HasSuffix(ictName, "_L"):
		ictName = strings.TrimSuffix(ictName, "_L") + "Left"
	case strings.HasSuffix(ictName, "_R"):
		ictName = strings.TrimSuffix(ictName, "_R") + "Right"
	}
	switch ictName {
	case "browInnerUpLeft", "browInnerUpRight":
		return "browInnerUp"
	case "cheekPuffLeft", "cheekPuffRight":
		return "cheekPuff"
	}
	return ictName
}

// basis is the model restricted to the points the fit evaluates: the
// correspondence points of the 468 landmarks and ICT's 68 iBUG vertices.
// It is built once per process and shared read-only by every fit.
type basis struct {
	m    *ict.Model
	p0   [NumLandmarks][3]float64
	b    [NumLandmarks][3][]float64 // 3 × K per landmark
	n0   [][3]float64               // unit normals of MediaPipe's canonical face (visibility)
	gram []float64                  // Σ_i B_iᵀB_i (upper triangle), all landmarks at weight 1
	// zz[a][b] (a ≤ b; upper triangles) are Σ_i (B_ia B_ibᵀ + B_ib B_iaᵀ)
	// (halved on the diagonal a = b): the camera-z rows' Gram matrix for any
	// rotation is Σ_{a≤b} r_a·r_b·zz[a][b] with r the rotation's third row.
	zz [3][3][]float64
	// l68p0 and l68b are the neutral position and the 3 × K basis rows of
	// ICT's 68 iBUG vertices (Result.Landmarks68 without the full mesh).
	l68p0 [][3]float64
	l68b  [][3][]float64
	// mirror[i] is the landmark opposite i across the face's midline (the
	// nearest canonical vertex to i's mirror image; i itself on the midline).
	mirror []int
	// contour marks the landmarks on the canonical face's open boundary
	// (the face oval, where a turned face's silhouette is).
	contour []bool
	k, nid  int
}

var loadBasis = sync.OnceValue(func() *basis {
	m := ict.Load()
	c := ict.MediaPipe()
	bs := &basis{m: m, nid: len(m.Identity), k: len(m.Identity) + len(m.Expressions)}
	shapes := append(append([]ict.Shape(nil), m.Identity...), m.Expressions...)
	mp := models.Canonical()
	bs.n0 = canonicalNormals(mp.Vertices, mp.Triangles)
	bs.mirror = mirrorMap(mp.Vertices)
	bs.contour = boundary(len(mp.Vertices), mp.Triangles)
	for i, p := range c.Points {
		bs.p0[i] = p.At(m.Neutral)
		for a := range 3 {
			bs.b[i][a] = make([]float64, bs.k)
		}
		for v := range 3 {
			w := float64(p.W[v])
			for j := range shapes {
				d := shapes[j].DeltaAt(p.V[v])
				for a := range 3 {
					bs.b[i][a][j] += w * float64(d[a])
				}
			}
		}
	}
	for _, v := range m.Landmarks68 {
		n := m.Neutral[v]
		bs.l68p0 = append(bs.l68p0, [3]float64{float64(n[0]), float64(n[1]), float64(n[2])})
		var rows [3][]float64
		for a := range 3 {
			rows[a] = make([]float64, bs.k)
		}
		for j := range shapes {
			d := shapes[j].DeltaAt(int32(v))
			for a := range 3 {
				rows[a][j] = float64(d[a])
			}
		}
		bs.l68b = append(bs.l68b, rows)
	}
	k := bs.k
	bs.gram = make([]float64, k*k)
	for a := range 3 {
		for b := a; b < 3; b++ {
			bs.zz[a][b] = make([]float64, k*k)
		}
	}
	for i := range NumLandmarks {
		for a := range 3 {
			rank1(bs.gram, bs.b[i][a], 1, k)
			for b := a; b < 3; b++ {
				sym2(bs.zz[a][b], bs.b[i][a], bs.b[i][b], k)
			}
		}
	}
	return bs
})

// mirrorMap pairs every vertex of a left-right symmetric mesh (x = 0 the
// midline) with the vertex nearest its mirror image.
func mirrorMap(v [][3]float32) []int {
	out := make([]int, len(v))
	for i, p := range v {
		best, bd := i, math.Inf(1)
		for j, q := range v {
			dx, dy, dz := float64(q[0]+p[0]), float64(q[1]-p[1]), float64(q[2]-p[2])
			if d := dx*dx + dy*dy + dz*dz; d < bd {
				best, bd = j, d
			}
		}
		out[i] = best
	}
	return out
}

// boundary marks the vertices on edges that only one triangle uses.
func boundary(n int, tris [][3]uint16) []bool {
	edges := map[[2]uint16]int{}
	for _, t := range tris {
		for k := range 3 {
			a, b := t[k], t[(k+1)%3]
			edges[[2]uint16{min(a, b), max(a, b)}]++
		}
	}
	out := make([]bool, n)
	for e, c := range edges {
		if c == 1 {
			out[e[0]], out[e[1]] = true, true
		}
	}
	return out
}

// sym2 adds u·vᵀ + v·uᵀ (u·uᵀ when u and v are the same slice) to the upper
// triangle of the k×k matrix a.
func sym2(a, u, v []float64, k int) {
	same := &u[0] == &v[0]
	for p := range k {
		up, vp := u[p], v[p]
		if up == 0 && vp == 0 {
			continue
		}
		arow := a[p*k : p*k+k]
		for q := p; q < k; q++ {
			if same {
				arow[q] += up * v[q]
			} else {
				arow[q] += up*v[q] + vp*u[q]
			}
		}
	}
}

func unit(v [3]float64) [3]float64 {
	l := math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2])
	if l == 0 {
		return v
	}
	return [3]float64{v[0] / l, v[1] / l, v[2] / l}
}

// canonicalNormals are the area-weighted vertex normals of MediaPipe's
// canonical face, a single front-facing sheet: unlike ICT's surface (inner
// lips, eyelid rims) every landmark's normal there points out of the face.
func canonicalNormals(v [][3]float32, tris [][3]uint16) [][3]float64 {
	n := make([][3]float64, len(v))
	for _, t := range tris {
		a, b, c := v[t[0]], v[t[1]], v[t[2]]
		u := [3]float64{float64(b[0] - a[0]), float64(b[1] - a[1]), float64(b[2] - a[2])}
		w := [3]float64{float64(c[0] - a[0]), float64(c[1] - a[1]), float64(c[2] - a[2])}
		x := [3]float64{u[1]*w[2] - u[2]*w[1], u[2]*w[0] - u[0]*w[2], u[0]*w[1] - u[1]*w[0]}
		for _, i := range t {
			n[i][0] += x[0]
			n[i][1] += x[1]
			n[i][2] += x[2]
		}
	}
	for i := range n {
		n[i] = unit(n[i])
	}
	return n
}

// vertexNormals are area-weighted vertex normals of positions with m's topology.
func vertexNormals(pos [][3]float32, m *ict.Model) [][3]float64 {
	n := make([][3]float64, len(pos))
	for _, t := range m.Tris {
		a, b, c := pos[t.V[0]], pos[t.V[1]], pos[t.V[2]]
		u := [3]float64{float64(b[0] - a[0]), float64(b[1] - a[1]), float64(b[2] - a[2])}
		v := [3]float64{float64(c[0] - a[0]), float64(c[1] - a[1]), float64(c[2] - a[2])}
		x := [3]float64{u[1]*v[2] - u[2]*v[1], u[2]*v[0] - u[0]*v[2], u[0]*v[1] - u[1]*v[0]}
		for _, i := range t.V {
			n[i][0] += x[0]
			n[i][1] += x[1]
			n[i][2] += x[2]
		}
	}
	for i := range n {
		n[i] = unit(n[i])
		if n[i] == ([3]float64{}) {
			n[i] = [3]float64{0, 0, 1} // a vertex of degenerate triangles only
		}
	}
	return n
}

// rank1 adds c·v·vᵀ to the upper triangle of the k×k matrix a, skipping v's zeros.
func rank1(a, v []float64, c float64, k int) {
	for p, vp := range v {
		if vp == 0 {
			continue
		}
		cp := c * vp
		arow := a[p*k+p : p*k+k]
		for q, vq := range v[p:] {
			arow[q] += cp * vq
		}
	}
}

// rank4 adds Σ_j c[j]·v[j]·v[j]ᵀ to the upper triangle of the k×k matrix a
// in one pass over a (four rank-1 updates; a stays in cache once).
func rank4(a []float64, v [4][]float64, c [4]float64, k int) {
	v0, v1, v2, v3 := v[0][:k], v[1][:k], v[2][:k], v[3][:k]
	for p := range k {
		c0, c1, c2, c3 := c[0]*v0[p], c[1]*v1[p], c[2]*v2[p], c[3]*v3[p]
		if c0 == 0 && c1 == 0 && c2 == 0 && c3 == 0 {
			continue
		}
		arow := a[p*k+p : p*k+k]
		w0, w1, w2, w3 := v0[p:], v1[p:], v2[p:], v3[p:]
		w0, w1, w2, w3 = w0[:len(arow)], w1[:len(arow)], w2[:len(arow)], w3[:len(arow)]
		for q := range arow {
			arow[q] += c0*w0[q] + c1*w1[q] + c2*w2[q] + c3*w3[q]
		}
	}
}

// fitParams are the fit's tunables (the package constants by default;
// tests vary them to measure their effect).
type fitParams struct {
	rounds            int
	idPrior, exprPull float64
	zWeight, zScale   float64
	// contourWeight scales the coefficient step's weight of the contour
	// landmarks (1: as the others).
	contourWeight float64
}

var defaultParams = fitParams{rounds: Rounds, idPrior: IdentityPrior, exprPull: ExpressionPull, zWeight: ZWeight, zScale: ZScale, contourWeight: ContourWeight}

// Fit fits the head to one face. It is deterministic.
func Fit(in Input) (*Result, error) { return fit(in, defaultParams) }

func fit(in Input, fp fitParams) (*Result, error) {
	if in.Width <= 0 || in.Height <= 0 {
		return nil, fmt.Errorf("%w: image size %dx%d", ErrInvalidInput, in.Width, in.Height)
	}
	if len(in.Landmarks) < NumLandmarks {
		return nil, fmt.Errorf("%w: %d landmarks, want at least %d", ErrInvalidInput, len(in.Landmarks), NumLandmarks)
	}
	obs := make([][3]float64, NumLandmarks)
	for i := range NumLandmarks {
		for a := range 3 {
			x := float64(in.Landmarks[i][a])
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, fmt.Errorf("%w: landmark %d is not finite", ErrInvalidInput, i)
			}
			if a == 2 {
				x *= fp.zScale
			}
			obs[i][a] = x
		}
	}
	bs := loadBasis()
	m := bs.m
	iod := interocular(obs)
	if !(iod > 0) {
		return nil, fmt.Errorf("%w: eyes coincide", ErrInvalidInput)
	}
	k, nid := bs.k, bs.nid
	prior := make([]float64, k) // expression targets from the blendshapes
	for j, s := range m.Expressions {
		if v, ok := in.Blendshapes[BlendshapeName(s.Name)]; ok && v > 0 {
			prior[nid+j] = math.Min(1, float64(v))
		}
	}
	c := append([]float64(nil), prior...)
	w := make([]float64, NumLandmarks)
	for i := range w {
		w[i] = 1
	}
	pts := make([][3]float64, NumLandmarks)
	eval := func() {
		for i := range NumLandmarks {
			for a := range 3 {
				s := bs.p0[i][a]
				row := bs.b[i][a][:k]
				for j, cj := range c[:k] {
					s += row[j] * cj
				}
				pts[i][a] = s
			}
		}
	}
	var sim ict.Similarity
	active := make([]int8, k)
	ata := make([]float64, k*k)
	atb := make([]float64, k)
	mz := make([]float64, k)
	lw := make([]float64, NumLandmarks) // the coefficient step's weights
	// The joint pose step's blocks: coefficients × pose, pose × pose, pose gradient.
	var hcp []float64
	var hpp [npose][npose]float64
	var gp [npose]float64
	nj := k + npose
	hcp = make([]float64, k*npose)
	big, bigb, bigc := make([]float64, nj*nj), make([]float64, nj), make([]float64, nj)
	sc, ex := make([]float64, (k-nid)*(k-nid)), make([]float64, k-nid) // Schur complement, expressions
	zw := fp.zWeight
	for round := range fp.rounds {
		eval()
		sim = ict.FitSimilarity(pts, obs, w)
		// Visibility: the camera looks along +z; a surface faces it when its
		// rotated normal has negative z.
		for i := range NumLandmarks {
			n := rot(sim.Rotation, bs.n0[i])
			w[i] = smooth(-n[2], 0.05, 0.35)
		}
		if round == fp.rounds-1 {
			break
		}
		copy(lw, w)
		if fp.contourWeight != 1 {
			for i, c := range bs.contour {
				if c {
					lw[i] *= fp.contourWeight
				}
			}
		}
		// Linear step: R·B_i·c = (obs − t)/s − R·P0_i, rows weighted w_i (·zw for z).
		// AᵀWA = Σ_i w_i·B_iᵀ(I − (1−zw)·r_z r_zᵀ)B_i (rotation-invariant
		// except for the z row): start from the precomputed all-ones Gram
		// matrix, take out what partially visible landmarks lack, then the
		// z rows' down-weighting.
		copy(ata, bs.gram)
		clear(atb)
		clear(hcp)
		clear(gp[:])
		hpp = [npose][npose]float64{}
		r := sim.Rotation
		if zw != 1 {
			for a := range 3 {
				for b := a; b < 3; b++ {
					c := -(1 - zw) * r[2][a] * r[2][b]
					if c == 0 {
						continue
					}
					for p, z := range bs.zz[a][b] {
						ata[p] += c * z
					}
				}
			}
		}
		for i := range NumLandmarks {
			bi := &bs.b[i]
			if lw[i] < 1 {
				// Take out the share of this landmark the weight removes
				// (rotation-invariant x, y, z rows, then the z down-weighting).
				for j := range k {
					mz[j] = r[2][0]*bi[0][j] + r[2][1]*bi[1][j] + r[2][2]*bi[2][j]
				}
				d := 1 - lw[i]
				rank4(ata, [4][]float64{bi[0], bi[1], bi[2], mz}, [4]float64{-d, -d, -d, d * (1 - zw)}, k)
			}
			if lw[i] == 0 {
				continue
			}
			// AᵀWb: the rotated rows R·B_i weighted by w·rhs are
			// Σ_b B_ib·(Σ_a w_a·rhs_a·r_ab).
			var u [3]float64
			for a := range 3 {
				rhs := (obs[i][a]-sim.Translation[a])/sim.Scale - (r[a][0]*bs.p0[i][0] + r[a][1]*bs.p0[i][1] + r[a][2]*bs.p0[i][2])
				wa := lw[i]
				if a == 2 {
					wa *= zw
				}
				for b := range 3 {
					u[b] += wa * rhs * r[a][b]
				}
			}
			b0, b1, b2 := bi[0][:k], bi[1][:k], bi[2][:k]
			for p := range atb[:k] {
				atb[p] += u[0]*b0[p] + u[1]*b1[p] + u[2]*b2[p]
			}
			{
				// Pose columns of the linearised model (units of the
				// coefficient step, cm): rotation ω × q, scale σ·q, shift τ.
				q := rot(r, pts[i])
				jp := [3][npose]float64{
					{0, q[2], -q[1], q[0], 1, 0, 0},
					{-q[2], 0, q[0], q[1], 0, 1, 0},
					{q[1], -q[0], 0, q[2], 0, 0, 1},
				}
				var mb [3][npose]float64
				for a := range 3 {
					wa := lw[i]
					if a == 2 {
						wa *= zw
					}
					rhs := (obs[i][a]-sim.Translation[a])/sim.Scale - (r[a][0]*bs.p0[i][0] + r[a][1]*bs.p0[i][1] + r[a][2]*bs.p0[i][2])
					for e := range npose {
						gp[e] += wa * rhs * jp[a][e]
						for f := range npose {
							hpp[e][f] += wa * jp[a][e] * jp[a][f]
						}
						for b := range 3 {
							mb[b][e] += wa * r[a][b] * jp[a][e]
						}
					}
				}
				for p := range k {
					x0, x1, x2 := b0[p], b1[p], b2[p]
					row := hcp[p*npose : p*npose+npose]
					for e := range npose {
						row[e] += x0*mb[0][e] + x1*mb[1][e] + x2*mb[2][e]
					}
				}
			}
		}
		for p := range k {
			reg := fp.idPrior
			if p >= nid {
				reg = fp.exprPull
				atb[p] += reg * prior[p]
			}
			ata[p*k+p] += reg
			for q := p + 1; q < k; q++ {
				ata[q*k+p] = ata[p*k+q]
			}
		}
		// The joint system, ordered identity, pose, expressions: the
		// unbounded identity and pose are eliminated (partial Cholesky), the
		// bounded expressions solved on the Schur complement, then the
		// identity back-substituted; the pose update is dropped (the next
		// round's Procrustes is the pose).
		n, nu, ne := nj, nid+npose, k-nid
		at := func(p int) int { // c index → joint index
			if p < nid {
				return p
			}
			return p + npose
		}
		for p := range k {
			ap := at(p)
			row := big[ap*n : ap*n+n]
			for q := range k {
				row[at(q)] = ata[p*k+q]
			}
			for e := range npose {
				row[nid+e] = hcp[p*npose+e]
				big[(nid+e)*n+ap] = hcp[p*npose+e]
			}
			bigb[ap] = atb[p]
		}
		for e := range npose {
			for f := range npose {
				big[(nid+e)*n+nid+f] = hpp[e][f]
			}
			big[(nid+e)*n+nid+e] += 1e-9
			bigb[nid+e] = gp[e]
		}
		if !partialCholesky(big, bigb, n, nu) {
			return nil, fmt.Errorf("%w: the fit's normal equations are singular", ErrInvalidInput)
		}
		for i := range ne {
			for j := range ne {
				sc[i*ne+j] = big[(nu+max(i, j))*n+nu+min(i, j)]
			}
		}
		copy(ex, c[nid:])
		if !boxSolve(sc, bigb[nu:], ex, ne, 0, ne, active[nid:]) {
			return nil, fmt.Errorf("%w: the fit's normal equations are singular", ErrInvalidInput)
		}
		// Lᵀ·u = y − L₂₁ᵀ·e for the identity and pose.
		for j := nu - 1; j >= 0; j-- {
			v := bigb[j]
			for i := j + 1; i < nu; i++ {
				v -= big[i*n+j] * bigc[i]
			}
			for i := range ne {
				v -= big[(nu+i)*n+j] * ex[i]
			}
			bigc[j] = v / big[j*n+j]
		}
		copy(c[:nid], bigc[:nid])
		copy(c[nid:], ex)
	}
	// Final report with the last pose and coefficients.
	res := &Result{Identity: append([]float64(nil), c[:nid]...), Expression: append([]float64(nil), c[nid:]...)}
	var errSum, wSum float64
	var vis int
	for i := range NumLandmarks {
		q := sim.Apply(pts[i])
		errSum += w[i] * math.Hypot(q[0]-obs[i][0], q[1]-obs[i][1])
		wSum += w[i]
		if w[i] >= 0.5 {
			vis++
		}
	}
	if wSum == 0 {
		return nil, fmt.Errorf("%w: no landmark faces the camera", ErrInvalidInput)
	}
	res.ReprojectionError = 100 * errSum / wSum / iod
	res.Poor = res.ReprojectionError > PoorFitPercent
	res.Visible = float64(vis) / NumLandmarks
	res.Pose = geometry.PoseFromSimilarity(sim.Rotation, sim.Translation, sim.Scale, in.Width, in.Height)
	res.landmarks2D = make([][2]float64, NumLandmarks)
	for i := range NumLandmarks {
		res.landmarks2D[i] = [2]float64{obs[i][0], obs[i][1]}
	}
	if len(in.Landmarks) >= 478 {
		for _, c := range []int{468, 473} {
			l := in.Landmarks
			var r float64
			for k := 1; k <= 4; k++ {
				r += math.Hypot(float64(l[c+k][0]-l[c][0]), float64(l[c+k][1]-l[c][1])) / 4
			}
			res.Irises = append(res.Irises, [3]float64{float64(l[c][0]), float64(l[c][1]), r})
		}
	}
	// The iBUG points from their own basis rows (float32 positions, as
	// the full mesh would give them).
	res.Landmarks68 = make([][3]float32, len(bs.l68b))
	for v := range bs.l68b {
		var p [3]float64
		for a := range 3 {
			s := bs.l68p0[v][a]
			for j, cj := range c[:k] {
				s += bs.l68b[v][a][j] * cj
			}
			p[a] = float64(float32(s))
		}
		q := sim.Apply(p)
		// z back on the landmarks' own scale (the fit works on z·zScale).
		res.Landmarks68[v] = [3]float32{float32(q[0]), float32(q[1]), float32(q[2] / fp.zScale)}
	}
	return res, nil
}

func rot(r [3][3]float64, v [3]float64) [3]float64 {
	return [3]float64{
		r[0][0]*v[0] + r[0][1]*v[1] + r[0][2]*v[2],
		r[1][0]*v[0] + r[1][1]*v[1] + r[1][2]*v[2],
		r[2][0]*v[0] + r[2][1]*v[1] + r[2][2]*v[2],
	}
}

// smooth is 0 below lo, 1 above hi, smoothstep between.
func smooth(x, lo, hi float64) float64 {
	t := (x - lo) / (hi - lo)
	if !(t > 0) {
		return 0
	}
	if t >= 1 {
		return 1
	}
	return t * t * (3 - 2*t)
}

// interocular is the IOD of the project's landmark metrics (the engine's
// parity with MediaPipe is graded on it): the distance between the outer eye
// corners, landmarks 33 and 263, here in 3D (z is on x's scale) so that it
// equals the 2D distance on a frontal face and does not shrink on a profile.
func interocular(l [][3]float64) float64 {
	var d float64
	for a := range 3 {
		x := l[33][a] - l[263][a]
		d += x * x
	}
	return math.Sqrt(d)
}

// partialCholesky eliminates the first nu unknowns of the symmetric
// positive definite n×n system a·x = b (row-major, lower triangle used):
// afterwards a's first nu columns hold the Cholesky factor L₁₁ over L₂₁, its
// trailing block the Schur complement S = A₂₂ − L₂₁L₂₁ᵀ, b[:nu] holds
// y = L₁₁⁻¹·b₁ and b[nu:] the reduced right-hand side b₂ − L₂₁·y. It reports
// false when the leading block is not positive definite.
func partialCholesky(a, b []float64, n, nu int) bool {
	col := make([]float64, n)
	for j := range nu {
		d := a[j*n+j]
		if !(d > 0) {
			return false
		}
		d = math.Sqrt(d)
		a[j*n+j] = d
		b[j] /= d
		for i := j + 1; i < n; i++ {
			a[i*n+j] /= d
			col[i] = a[i*n+j]
			b[i] -= col[i] * b[j]
		}
		for i := j + 1; i < n; i++ {
			lij := col[i]
			if lij == 0 {
				continue
			}
			ri := a[i*n+j+1 : i*n+i+1]
			cj := col[j+1 : i+1]
			for kk := range ri {
				ri[kk] -= lij * cj[kk]
			}
		}
	}
	return true
}

// boxSolve minimises ½cᵀAc − bᵀc with c[nid:nb] in [0, 1] by an active set:
// solve for the free coefficients, clamp those out of bounds, repeat. c holds
// the result. A (k×k, full symmetric) is not modified.
//
// fixed (0 free, −1 at 0, +1 at 1) is the starting active set and is left
// holding the final one, so successive rounds start from the last solution's.
func boxSolve(a, b, c []float64, k, nid, nb int, fixed []int8) bool {
	sub := make([]float64, 0, k*k)
	rhs := make([]float64, 0, k)
	for iter := 0; iter < 20; iter++ {
		free := free(fixed)
		sub = sub[:0]
		rhs = rhs[:0]
		for _, p := range free {
			r := b[p]
			for q := range k {
				if fixed[q] == 1 {
					r -= a[p*k+q]
				}
			}
			rhs = append(rhs, r)
			for _, q := range free {
				sub = append(sub, a[p*k+q])
			}
		}
		if !ict.SolveSPD(sub, rhs, len(free)) {
			return false
		}
		for q := range k {
			switch fixed[q] {
			case -1:
				c[q] = 0
			case 1:
				c[q] = 1
			}
		}
		changed := false
		for i, p := range free {
			c[p] = rhs[i]
			if p >= nid && p < nb {
				if c[p] < 0 {
					fixed[p], c[p], changed = -1, 0, true
				} else if c[p] > 1 {
					fixed[p], c[p], changed = 1, 1, true
				}
			}
		}
		// Release bounds whose gradient points inside.
		for q := nid; q < nb && !changed; q++ {
			if fixed[q] == 0 {
				continue
			}
			g := -b[q]
			for p := range k {
				g += a[q*k+p] * c[p]
			}
			if (fixed[q] == -1 && g < -1e-9) || (fixed[q] == 1 && g > 1e-9) {
				fixed[q], changed = 0, true
			}
		}
		if !changed {
			return true
		}
	}
	return true
}

func free(fixed []int8) []int {
	var out []int
	for i, f := range fixed {
		if f == 0 {
			out = append(out, i)
		}
	}
	return out
}
