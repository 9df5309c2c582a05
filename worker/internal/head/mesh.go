package head

import (
	"image/color"
	"math"
	"sync"

	"github.com/facefleet/facefleet/models/ict"
)

// Skin materials: the two ICT UV tiles the baked texture covers. ICT's UVs are
// UDIM-like (u in [0,1] the face, [1,2] the back of the head and the neck, further
// tiles for mouth, teeth, eyelashes …); the head texture is a 2:1 atlas
// holding the face tile on the left and the back-head tile on the right.
const (
	matFace     = "M_Face"
	matBackHead = "M_BackHead"
)

// topology is the ICT mesh as glTF/OBJ need it: one vertex per distinct
// (position, UV) corner, triangles per material group.
type topology struct {
	m *ict.Model
	// src[i] is the ICT vertex of output vertex i; uv[i] its atlas UV
	// (glTF convention, v = 0 at the top).
	src []int32
	uv  [][2]float32
	// groups[g] are the triangles (output vertex indices) of material g.
	groups [][][3]uint32
	// textured[g] reports whether group g samples the head texture.
	textured []bool
	// eye[i] classifies output vertex i of the inner eyeballs (ICT's
	// M_IrisLeft/Right meshes, whole eyeballs whose iris UE paints with a
	// texture): eyeWhite, eyeIris or eyePupil by its angle from the
	// eyeball's forward axis; eyeNone elsewhere. The glTF gets them as
	// vertex colours, so the iris follows the eyeLook shapes.
	eye []uint8
}

const (
	eyeNone = iota
	eyeWhite
	eyeIris
	eyePupil
)

// Iris and pupil half-angles seen from the eyeball centre (ICT's eyeballs
// have a radius of about 1.1 cm; a human iris is ~1.2 cm across, a pupil ~0.4).
const (
	irisHalfAngle  = 33.0
	pupilHalfAngle = 11.0
)

var loadTopology = sync.OnceValue(func() *topology {
	m := ict.Load()
	tp := &topology{m: m, groups: make([][][3]uint32, len(m.Materials)), textured: make([]bool, len(m.Materials))}
	for g, name := range m.Materials {
		tp.textured[g] = name == matFace || name == matBackHead
	}
	type corner struct{ v, t int32 }
	index := map[corner]uint32{}
	for _, t := range m.Tris {
		var tri [3]uint32
		for k := range 3 {
			c := corner{t.V[k], t.T[k]}
			i, ok := index[c]
			if !ok {
				i = uint32(len(tp.src))
				index[c] = i
				tp.src = append(tp.src, c.v)
				uv := m.UV[c.t]
				u := float64(uv[0])
				if !tp.textured[t.Material] {
					u -= math.Floor(u) // untextured groups: keep their own tile's layout in [0, 1]
				}
				tp.uv = append(tp.uv, [2]float32{float32(u / 2), 1 - uv[1]})
			}
			tri[k] = i
		}
		tp.groups[t.Material] = append(tp.groups[t.Material], tri)
	}
	tp.eye = make([]uint8, len(tp.src))
	for _, side := range []string{"M_IrisLeft", "M_IrisRight"} {
		g := -1
		for i, name := range m.Materials {
			if name == side {
				g = i
			}
		}
		if g < 0 {
			continue
		}
		var c [3]float64
		var n float64
		for _, t := range tp.groups[g] {
			for _, k := range t {
				for a := range 3 {
					c[a] += float64(m.Neutral[tp.src[k]][a])
				}
				n++
			}
		}
		for a := range 3 {
			c[a] /= n
		}
		for _, t := range tp.groups[g] {
			for _, k := range t {
				v := m.Neutral[tp.src[k]]
				d := [3]float64{float64(v[0]) - c[0], float64(v[1]) - c[1], float64(v[2]) - c[2]}
				ang := math.Acos(d[2]/math.Sqrt(d[0]*d[0]+d[1]*d[1]+d[2]*d[2])) * 180 / math.Pi
				switch {
				case ang < pupilHalfAngle:
					tp.eye[k] = eyePupil
				case ang < irisHalfAngle:
					tp.eye[k] = eyeIris
				default:
					tp.eye[k] = eyeWhite
				}
			}
		}
	}
	return tp
})

// Head is a fitted head ready to be written: positions (cm, ICT frame) with
// and without the expression, and the fit.
type Head struct {
	Fit *Result
	// Base is neutral + identity (the glTF base mesh: expressions are morph targets).
	Base [][3]float32
	// Posed is Base + the fitted expression (OBJ, texture bake).
	Posed [][3]float32
	// Iris is the iris colour sampled from the photo by BakeTexture (nil
	// before, or without iris landmarks).
	Iris *color.NRGBA
}

// Build evaluates the fitted head's meshes.
func Build(r *Result) *Head {
	m := ict.Load()
	// Neutral + identity, accumulated in float32 (within 1e-5 cm of the
	// float64 sum: TestBuildMatchesModel), with the bounds checks hoisted.
	base := append([][3]float32(nil), m.Neutral...)
	for j, c := range r.Identity {
		if c == 0 || j >= len(m.Identity) {
			continue
		}
		sh := &m.Identity[j]
		cf := float32(c)
		delta := sh.Delta[:len(sh.Index)]
		for k, v := range sh.Index {
			d, p := &delta[k], &base[v]
			p[0] += cf * d[0]
			p[1] += cf * d[1]
			p[2] += cf * d[2]
		}
	}
	posed := append([][3]float32(nil), base...)
	for j, w := range r.Expression {
		if w == 0 {
			continue
		}
		sh := &m.Expressions[j]
		for k, v := range sh.Index {
			d := sh.Delta[k]
			posed[v][0] += float32(w) * d[0]
			posed[v][1] += float32(w) * d[1]
			posed[v][2] += float32(w) * d[2]
		}
	}
	return &Head{Fit: r, Base: base, Posed: posed}
}
