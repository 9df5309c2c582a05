package ict

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"github.com/facefleet/facefleet/models/facemesh"
)

// Anchors are the only hand-listed pairs of the correspondence derivation:
// MediaPipe FaceMesh vertex → iBUG-68 index (ICT's idx_to_landmark_verts),
// for points whose identity is unambiguous in both conventions: the four eye
// corners, the two mouth corners, the nose tip and the chin. They fix a
// coarse similarity between the two canonical meshes; everything else is
// derived from the geometry.
var Anchors = [][2]int{
	{33, 36},  // subject's right eye, outer corner
	{133, 39}, // subject's right eye, inner corner
	{362, 42}, // subject's left eye, inner corner
	{263, 45}, // subject's left eye, outer corner
	{61, 48},  // right mouth corner
	{291, 54}, // left mouth corner
	{1, 30},   // nose tip
	{152, 8},  // chin
}

// Point is a surface point of the ICT mesh: a barycentric combination of
// three vertices (a triangle of the face material).
type Point struct {
	V [3]int32   `json:"v"`
	W [3]float32 `json:"w"`
}

// Correspondence maps each MediaPipe canonical vertex to an ICT surface point.
type Correspondence struct {
	// Points[i] is the ICT surface point of MediaPipe landmark i (0..467).
	Points []Point `json:"points"`
	// IBUG68 is, for each of the 68 iBUG points (ICT's idx_to_landmark_verts),
	// the nearest MediaPipe vertex after alignment (derived, for reference).
	IBUG68 []int `json:"ibug68_mediapipe"`
	// ResidualCM is the mean and max distance (cm) between the aligned
	// MediaPipe canonical vertices and their ICT points after refinement.
	ResidualCM [2]float64 `json:"residual_cm"`
	// Identity are the identity coefficients of the ICT head fitted to the
	// MediaPipe canonical face during the derivation.
	Identity []float64 `json:"identity"`
}

// At returns the position of p on a mesh with positions pos.
func (p Point) At(pos [][3]float32) [3]float64 {
	var r vec3
	for k := range 3 {
		v := pos[p.V[k]]
		w := float64(p.W[k])
		r[0] += w * float64(v[0])
		r[1] += w * float64(v[1])
		r[2] += w * float64(v[2])
	}
	return r
}

// DeltaAt returns shape s's offset at vertex v (0 where s does not move v).
func (s *Shape) DeltaAt(v int32) [3]float32 {
	i := sort.Search(len(s.Index), func(i int) bool { return s.Index[i] >= v })
	if i < len(s.Index) && s.Index[i] == v {
		return s.Delta[i]
	}
	return [3]float32{}
}

// Positions returns Neutral + Σ id_i·Identity[i] + Σ ex_j·Expressions[j]
// (nil or short coefficient slices mean zeros).
func (m *Model) Positions(id, ex []float64) [][3]float32 {
	acc := make([][3]float64, len(m.Neutral))
	for i, v := range m.Neutral {
		acc[i] = vec3{float64(v[0]), float64(v[1]), float64(v[2])}
	}
	apply := func(shapes []Shape, c []float64) {
		for j := range min(len(shapes), len(c)) {
			if c[j] == 0 {
				continue
			}
			s := &shapes[j]
			for k, v := range s.Index {
				d := s.Delta[k]
				acc[v][0] += c[j] * float64(d[0])
				acc[v][1] += c[j] * float64(d[1])
				acc[v][2] += c[j] * float64(d[2])
			}
		}
	}
	apply(m.Identity, id)
	apply(m.Expressions, ex)
	out := make([][3]float32, len(acc))
	for i, a := range acc {
		out[i] = [3]float32{float32(a[0]), float32(a[1]), float32(a[2])}
	}
	return out
}

// FaceMaterial is the material group of the face skin, the surface
// MediaPipe's landmarks lie on.
const FaceMaterial = "M_Face"

// FaceTriangles returns the indices of the triangles of the face material.
func (m *Model) FaceTriangles() []int {
	var out []int
	for i, t := range m.Tris {
		if m.Materials[t.Material] == FaceMaterial {
			out = append(out, i)
		}
	}
	return out
}

// DeriveCorrespondence derives the MediaPipe ↔ ICT correspondence from the
// two canonical meshes:
//
//  1. a similarity from the MediaPipe canonical mesh onto ICT's neutral head
//     fitted to the Anchors;
//  2. every MediaPipe vertex projected onto the nearest point of ICT's face
//     surface;
//  3. non-rigid refinement, iters times: ICT's identity coefficients (ridge
//     prior) and the similarity refitted to those points, then every vertex
//     projected again onto the refitted head, so the pairing follows the
//     shape of the MediaPipe face rather than the neutral ICT face.
//
// The result depends only on the two meshes and is deterministic.
func DeriveCorrespondence(m *Model, mp *facemesh.Mesh, iters int) (*Correspondence, error) {
	n := len(mp.Vertices)
	if n == 0 || len(m.Landmarks68) != 68 {
		return nil, fmt.Errorf("%w: empty meshes", ErrMalformed)
	}
	src := make([][3]float64, n)
	for i, v := range mp.Vertices {
		src[i] = vec3{float64(v[0]), float64(v[1]), float64(v[2])}
	}
	var as, ad [][3]float64
	for _, a := range Anchors {
		as = append(as, src[a[0]])
		v := m.Neutral[m.Landmarks68[a[1]]]
		ad = append(ad, vec3{float64(v[0]), float64(v[1]), float64(v[2])})
	}
	sim := FitSimilarity(as, ad, nil)
	faceTris := m.FaceTriangles()
	pos := m.Neutral
	id := make([]float64, len(m.Identity))
	project := func() []Point {
		pts := make([]Point, n)
		for i := range n {
			p := sim.Apply(src[i])
			best := math.Inf(1)
			for _, ti := range faceTris {
				t := m.Tris[ti]
				a, b, c := f64(pos[t.V[0]]), f64(pos[t.V[1]]), f64(pos[t.V[2]])
				bc := ClosestOnTriangle(p, a, b, c)
				q := add(add(scl(a, bc[0]), scl(b, bc[1])), scl(c, bc[2]))
				d := dot(sub(q, p), sub(q, p))
				if d < best {
					best = d
					pts[i] = Point{V: t.V, W: [3]float32{float32(bc[0]), float32(bc[1]), float32(bc[2])}}
				}
			}
		}
		return pts
	}
	pts := project()
	const lambda = 0.5 // cm² per SD²: the identity prior against the MediaPipe face's shape
	for range iters {
		// Identity (ridge) with the similarity fixed.
		k := len(m.Identity)
		ata := make([]float64, k*k)
		atb := make([]float64, k)
		basis := make([][]vec3, n)
		for i, p := range pts {
			bi := make([]vec3, k)
			for j := range k {
				for c := range 3 {
					d := m.Identity[j].DeltaAt(p.V[c])
					w := float64(p.W[c])
					bi[j] = add(bi[j], vec3{w * float64(d[0]), w * float64(d[1]), w * float64(d[2])})
				}
			}
			basis[i] = bi
			r := sub(sim.Apply(src[i]), p.At(m.Neutral))
			for a := range k {
				atb[a] += dot(bi[a], r)
				for b := a; b < k; b++ {
					ata[a*k+b] += dot(bi[a], bi[b])
				}
			}
		}
		for a := range k {
			ata[a*k+a] += lambda
			for b := a + 1; b < k; b++ {
				ata[b*k+a] = ata[a*k+b]
			}
		}
		if !SolveSPD(ata, atb, k) {
			return nil, fmt.Errorf("%w: identity system not positive definite", ErrMalformed)
		}
		copy(id, atb)
		pos = m.Positions(id, nil)
		// Similarity onto the refitted surface points.
		dst := make([][3]float64, n)
		for i, p := range pts {
			dst[i] = p.At(pos)
		}
		sim = FitSimilarity(src, dst, nil)
		pts = project()
	}
	c := &Correspondence{Points: pts, Identity: id}
	var sum, worst float64
	for i, p := range pts {
		d := math.Sqrt(dot(sub(p.At(pos), sim.Apply(src[i])), sub(p.At(pos), sim.Apply(src[i]))))
		sum += d
		worst = math.Max(worst, d)
	}
	c.ResidualCM = [2]float64{round6(sum / float64(n)), round6(worst)}
	for _, lv := range m.Landmarks68 {
		q := f64(pos[lv])
		best, bi := math.Inf(1), 0
		for i := range n {
			p := sim.Apply(src[i])
			if d := dot(sub(p, q), sub(p, q)); d < best {
				best, bi = d, i
			}
		}
		c.IBUG68 = append(c.IBUG68, bi)
	}
	for i := range c.Identity {
		c.Identity[i] = round6(c.Identity[i])
	}
	for i := range c.Points {
		for k := range 3 {
			c.Points[i].W[k] = float32(round6(float64(c.Points[i].W[k])))
		}
	}
	return c, nil
}

func f64(v [3]float32) vec3 { return vec3{float64(v[0]), float64(v[1]), float64(v[2])} }

func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// Encode writes c as indented JSON (deterministic).
func (c *Correspondence) Encode() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// DecodeCorrespondence parses and checks a correspondence against m.
func DecodeCorrespondence(b []byte, m *Model) (*Correspondence, error) {
	var c Correspondence
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%w: correspondence: %v", ErrMalformed, err)
	}
	if len(c.Points) != facemesh.NumVertices {
		return nil, fmt.Errorf("%w: correspondence has %d points, want %d", ErrMalformed, len(c.Points), facemesh.NumVertices)
	}
	for i, p := range c.Points {
		var s float32
		for k := range 3 {
			if p.V[k] < 0 || int(p.V[k]) >= len(m.Neutral) {
				return nil, fmt.Errorf("%w: correspondence point %d vertex out of range", ErrMalformed, i)
			}
			s += p.W[k]
		}
		if math.Abs(float64(s)-1) > 1e-4 {
			return nil, fmt.Errorf("%w: correspondence point %d weights sum to %g", ErrMalformed, i, s)
		}
	}
	return &c, nil
}

// CorrespondenceIterations is the number of refinement rounds models/cmd/ictcorr runs.
const CorrespondenceIterations = 4
