package head

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/facefleet/facefleet/worker/internal/geometry"
)

// glTF constants.
const (
	gltfFloat    = 5126
	gltfUByte    = 5121
	gltfUShort   = 5123
	gltfUInt     = 5125
	gltfArray    = 34962
	gltfElements = 34963
	metresPerCM  = 0.01
	// MorphEpsilonCM drops morph-target offsets below this length (cm):
	// ICT's shapes carry sub-0.1 mm noise far from where they act, and the
	// sparse targets only store vertices that really move.
	MorphEpsilonCM = 0.005
)

type (
	gDoc struct {
		Asset       map[string]string `json:"asset"`
		Scene       int               `json:"scene"`
		Scenes      []gScene          `json:"scenes"`
		Nodes       []gNode           `json:"nodes"`
		Meshes      []gMesh           `json:"meshes"`
		Materials   []gMaterial       `json:"materials"`
		Textures    []gIndexRef2      `json:"textures,omitempty"`
		Images      []gImage          `json:"images,omitempty"`
		Samplers    []gSampler        `json:"samplers,omitempty"`
		Accessors   []gAccessor       `json:"accessors"`
		BufferViews []gView           `json:"bufferViews"`
		Buffers     []gBuffer         `json:"buffers"`
	}
	gScene struct {
		Nodes []int `json:"nodes"`
	}
	gNode struct {
		Name string `json:"name"`
		Mesh int    `json:"mesh"`
	}
	gMesh struct {
		Name       string       `json:"name"`
		Primitives []gPrimitive `json:"primitives"`
		Weights    []float64    `json:"weights"`
		Extras     gMeshExtras  `json:"extras"`
	}
	gMeshExtras struct {
		TargetNames []string `json:"targetNames"`
	}
	gPrimitive struct {
		Attributes map[string]int   `json:"attributes"`
		Indices    int              `json:"indices"`
		Material   int              `json:"material"`
		Mode       int              `json:"mode"`
		Targets    []map[string]int `json:"targets"`
	}
	gMaterial struct {
		Name        string `json:"name"`
		PBR         gPBR   `json:"pbrMetallicRoughness"`
		AlphaMode   string `json:"alphaMode,omitempty"`
		DoubleSided bool   `json:"doubleSided,omitempty"`
	}
	gPBR struct {
		BaseColorFactor  []float64  `json:"baseColorFactor,omitempty"`
		BaseColorTexture *gIndexRef `json:"baseColorTexture,omitempty"`
		MetallicFactor   float64    `json:"metallicFactor"`
		RoughnessFactor  float64    `json:"roughnessFactor"`
	}
	gIndexRef struct {
		Index int `json:"index"`
	}
	gIndexRef2 struct {
		Sampler int `json:"sampler"`
		Source  int `json:"source"`
	}
	gImage struct {
		BufferView int    `json:"bufferView"`
		MimeType   string `json:"mimeType"`
	}
	gSampler struct {
		MagFilter int `json:"magFilter"`
		MinFilter int `json:"minFilter"`
		WrapS     int `json:"wrapS"`
		WrapT     int `json:"wrapT"`
	}
	gAccessor struct {
		BufferView    *int      `json:"bufferView,omitempty"`
		ComponentType int       `json:"componentType"`
		Normalized    bool      `json:"normalized,omitempty"`
		Count         int       `json:"count"`
		Type          string    `json:"type"`
		Min           []float64 `json:"min,omitempty"`
		Max           []float64 `json:"max,omitempty"`
		Sparse        *gSparse  `json:"sparse,omitempty"`
	}
	gSparse struct {
		Count   int          `json:"count"`
		Indices gSparseIndex `json:"indices"`
		Values  gSparseVals  `json:"values"`
	}
	gSparseIndex struct {
		BufferView    int `json:"bufferView"`
		ComponentType int `json:"componentType"`
	}
	gSparseVals struct {
		BufferView int `json:"bufferView"`
	}
	gView struct {
		Buffer     int `json:"buffer"`
		ByteOffset int `json:"byteOffset"`
		ByteLength int `json:"byteLength"`
		Target     int `json:"target,omitempty"`
	}
	gBuffer struct {
		ByteLength int `json:"byteLength"`
	}
)

// materialLook is the glTF look of an ICT material group that is not skin.
type materialLook struct {
	rgba        [4]float64
	blend, both bool
	roughness   float64
}

var looks = map[string]materialLook{
	"M_GumsTongue": {rgba: [4]float64{0.55, 0.18, 0.2, 1}, roughness: 0.4},
	"M_Teeth":      {rgba: [4]float64{0.88, 0.85, 0.78, 1}, roughness: 0.3},
	// ICT's "sclera" meshes are the outer, cornea-bulged shells; its "iris"
	// meshes the eyeballs (white, iris and pupil by vertex colour).
	"M_ScleraLeft":    {rgba: [4]float64{1, 1, 1, 0.08}, blend: true, roughness: 0.05},
	"M_ScleraRight":   {rgba: [4]float64{1, 1, 1, 0.08}, blend: true, roughness: 0.05},
	"M_IrisLeft":      {rgba: [4]float64{1, 1, 1, 1}, roughness: 0.2},
	"M_IrisRight":     {rgba: [4]float64{1, 1, 1, 1}, roughness: 0.2},
	"M_LacrimalFluid": {rgba: [4]float64{1, 1, 1, 0.1}, blend: true, roughness: 0.1},
	"M_EyeBlend":      {rgba: [4]float64{1, 1, 1, 0}, blend: true, roughness: 1},
	"M_EyeOcclusion":  {rgba: [4]float64{0, 0, 0, 0.15}, blend: true, roughness: 1},
	"M_EyeLashes":     {rgba: [4]float64{0.08, 0.06, 0.05, 0.45}, blend: true, both: true, roughness: 0.8},
}

// GLBStats describes a written head.glb.
type GLBStats struct {
	Bytes, Vertices, Triangles, Targets, MorphVertices int
}

// glbStatic are the parts of head.glb that do not depend on the fit,
// encoded once per process and shared read-only: the UVs, the 53 sparse
// morph targets (ICT's expressions move the same vertices by the same
// offsets on every head) and the index buffers of the material groups.
type glbStatic struct {
	uv      []byte
	idxType int
	targets []glbTarget
	groups  []glbGroup // per material; n == 0 for an empty group
	names   []string
	morphN  int // Σ sparse counts
	size    int // Σ bytes of the above, each padded to 4
}

type glbTarget struct {
	idx, vals []byte
	lo, hi    []float64
	count     int
}

type glbGroup struct {
	ib     []byte
	lo, hi uint32
	n      int // triangles
}

func pad4(n int) int { return (n + 3) &^ 3 }

var loadGLBStatic = sync.OnceValue(func() *glbStatic {
	tp := loadTopology()
	m := tp.m
	n := len(tp.src)
	st := &glbStatic{idxType: gltfUShort}
	if n > math.MaxUint16 {
		st.idxType = gltfUInt
	}
	st.uv = make([]byte, 0, 8*n)
	for _, t := range tp.uv {
		st.uv = binary.LittleEndian.AppendUint32(st.uv, math.Float32bits(t[0]))
		st.uv = binary.LittleEndian.AppendUint32(st.uv, math.Float32bits(t[1]))
	}
	st.size += pad4(len(st.uv))
	// Sparse morph targets: indices (strictly increasing) of the output
	// vertices whose ICT vertex the expression moves, and their offsets.
	dense := make([][3]float32, len(m.Neutral))
	moved := make([]bool, len(m.Neutral))
	for j := range m.Expressions {
		s := &m.Expressions[j]
		st.names = append(st.names, s.Name)
		clear(moved)
		for k, v := range s.Index {
			d := s.Delta[k]
			if math.Sqrt(float64(d[0]*d[0]+d[1]*d[1]+d[2]*d[2])) >= MorphEpsilonCM {
				dense[v], moved[v] = d, true
			}
		}
		tg := glbTarget{lo: []float64{0, 0, 0}, hi: []float64{0, 0, 0}}
		for i, v := range tp.src {
			if !moved[v] {
				continue
			}
			if st.idxType == gltfUShort {
				tg.idx = binary.LittleEndian.AppendUint16(tg.idx, uint16(i))
			} else {
				tg.idx = binary.LittleEndian.AppendUint32(tg.idx, uint32(i))
			}
			for k := range 3 {
				f := dense[v][k] * metresPerCM
				tg.vals = binary.LittleEndian.AppendUint32(tg.vals, math.Float32bits(f))
				tg.lo[k], tg.hi[k] = math.Min(tg.lo[k], float64(f)), math.Max(tg.hi[k], float64(f))
			}
			tg.count++
		}
		if tg.count == 0 { // a target must not be empty: store one zero offset
			tg.idx = make([]byte, 2)
			if st.idxType == gltfUInt {
				tg.idx = make([]byte, 4)
			}
			tg.vals = make([]byte, 12)
			tg.count = 1
		}
		st.morphN += tg.count
		st.size += pad4(len(tg.idx)) + pad4(len(tg.vals))
		st.targets = append(st.targets, tg)
	}
	st.groups = make([]glbGroup, len(m.Materials))
	for g := range m.Materials {
		tris := tp.groups[g]
		if len(tris) == 0 {
			continue
		}
		gr := glbGroup{lo: math.MaxUint32, n: len(tris)}
		for _, t := range tris {
			for _, k := range t {
				if st.idxType == gltfUShort {
					gr.ib = binary.LittleEndian.AppendUint16(gr.ib, uint16(k))
				} else {
					gr.ib = binary.LittleEndian.AppendUint32(gr.ib, k)
				}
				gr.lo, gr.hi = min(gr.lo, k), max(gr.hi, k)
			}
		}
		st.size += pad4(len(gr.ib))
		st.groups[g] = gr
	}
	return st
})

// WriteGLB writes the head as binary glTF 2.0: one mesh whose 12 primitives
// (ICT's material groups) share the vertices; the base is neutral + identity
// in metres, the 53 expressions are sparse POSITION morph targets named as
// ICT names them (mesh.extras.targetNames), and the default weights are the
// fitted expression. texturePNG (the baked head texture) is embedded as the
// skin materials' base colour; nil leaves them untextured.
func (h *Head) WriteGLB(w io.Writer, texturePNG []byte) (GLBStats, error) {
	tp := loadTopology()
	st := loadGLBStatic()
	m := tp.m
	n := len(tp.src)
	if n == 0 || len(h.Base) != len(m.Neutral) {
		return GLBStats{}, errors.New("head: no mesh to write")
	}
	var bin bytes.Buffer
	bin.Grow(st.size + pad4(12*n)*2 + pad4(4*n) + pad4(len(texturePNG)))
	doc := gDoc{
		Asset:   map[string]string{"version": "2.0", "generator": "facefleet head (ICT-FaceKit, MIT)"},
		Scenes:  []gScene{{Nodes: []int{0}}},
		Nodes:   []gNode{{Name: "head", Mesh: 0}},
		Buffers: []gBuffer{{}},
	}
	view := func(data []byte, target int) int {
		geometry.PadGLBBin(&bin)
		doc.BufferViews = append(doc.BufferViews, gView{ByteOffset: bin.Len(), ByteLength: len(data), Target: target})
		bin.Write(data)
		return len(doc.BufferViews) - 1
	}
	accessor := func(a gAccessor) int {
		doc.Accessors = append(doc.Accessors, a)
		return len(doc.Accessors) - 1
	}
	ptr := func(i int) *int { return &i }

	// The per-head parts: positions, normals, vertex colours.
	data := make([]byte, 0, 12*n)
	plo, phi := []float64{math.Inf(1), math.Inf(1), math.Inf(1)}, []float64{math.Inf(-1), math.Inf(-1), math.Inf(-1)}
	for _, v := range tp.src {
		for k := range 3 {
			f := h.Base[v][k] * metresPerCM
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(f))
			plo[k], phi[k] = math.Min(plo[k], float64(f)), math.Max(phi[k], float64(f))
		}
	}
	pos := accessor(gAccessor{BufferView: ptr(view(data, gltfArray)), ComponentType: gltfFloat, Count: n, Type: "VEC3", Min: plo, Max: phi})
	normals := vertexNormals(h.Base, m)
	data = data[:0]
	for _, v := range tp.src {
		for k := range 3 {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(float32(normals[v][k])))
		}
	}
	nrm := accessor(gAccessor{BufferView: ptr(view(data, gltfArray)), ComponentType: gltfFloat, Count: n, Type: "VEC3"})
	uv := accessor(gAccessor{BufferView: ptr(view(st.uv, gltfArray)), ComponentType: gltfFloat, Count: n, Type: "VEC2"})
	data = data[:0]
	for i := range n {
		c := h.eyeColour(tp.eye[i])
		data = append(data, c[0], c[1], c[2], 255)
	}
	col := accessor(gAccessor{BufferView: ptr(view(data, gltfArray)), ComponentType: gltfUByte, Normalized: true, Count: n, Type: "VEC4"})

	stats := GLBStats{Vertices: n, Targets: len(st.targets), MorphVertices: st.morphN}
	targets := make([]map[string]int, len(st.targets))
	for j, tg := range st.targets {
		a := accessor(gAccessor{ComponentType: gltfFloat, Count: n, Type: "VEC3", Min: tg.lo, Max: tg.hi, Sparse: &gSparse{
			Count:   tg.count,
			Indices: gSparseIndex{BufferView: view(tg.idx, 0), ComponentType: st.idxType},
			Values:  gSparseVals{BufferView: view(tg.vals, 0)},
		}})
		targets[j] = map[string]int{"POSITION": a}
	}

	textured := -1
	if texturePNG != nil {
		doc.Images = []gImage{{BufferView: view(texturePNG, 0), MimeType: "image/png"}}
		doc.Samplers = []gSampler{{MagFilter: 9729, MinFilter: 9987, WrapS: 33071, WrapT: 33071}}
		doc.Textures = []gIndexRef2{{Sampler: 0, Source: 0}}
		textured = 0
	}
	mesh := gMesh{Name: "head", Weights: h.Fit.Expression, Extras: gMeshExtras{TargetNames: st.names}}
	for g, name := range m.Materials {
		gr := st.groups[g]
		if gr.n == 0 {
			continue
		}
		mat := gMaterial{Name: name, PBR: gPBR{RoughnessFactor: 0.7}}
		if tp.textured[g] {
			if textured >= 0 {
				mat.PBR.BaseColorTexture = &gIndexRef{Index: textured}
			} else {
				mat.PBR.BaseColorFactor = []float64{0.8, 0.62, 0.52, 1}
			}
		} else {
			l := looks[name]
			mat.PBR.BaseColorFactor = l.rgba[:]
			mat.PBR.RoughnessFactor = l.roughness
			mat.DoubleSided = l.both
			if l.blend {
				mat.AlphaMode = "BLEND"
			}
		}
		doc.Materials = append(doc.Materials, mat)
		stats.Triangles += gr.n
		ia := accessor(gAccessor{BufferView: ptr(view(gr.ib, gltfElements)), ComponentType: st.idxType, Count: 3 * gr.n, Type: "SCALAR", Min: []float64{float64(gr.lo)}, Max: []float64{float64(gr.hi)}})
		attrs := map[string]int{"POSITION": pos, "NORMAL": nrm, "TEXCOORD_0": uv, "COLOR_0": col}
		mesh.Primitives = append(mesh.Primitives, gPrimitive{Attributes: attrs, Indices: ia, Material: len(doc.Materials) - 1, Mode: 4, Targets: targets})
	}
	doc.Meshes = []gMesh{mesh}
	geometry.PadGLBBin(&bin)
	doc.Buffers[0].ByteLength = bin.Len()
	if bb, ok := w.(*bytes.Buffer); ok {
		// The file once, without the doubling of growth (the JSON is ~20 KB).
		bb.Grow(bin.Len() + 64<<10)
	}
	n, err := geometry.WriteGLBContainer(w, doc, bin.Bytes())
	if err != nil {
		return stats, fmt.Errorf("head: %w", err)
	}
	stats.Bytes = n
	return stats, nil
}

// eyeColour is the vertex colour of an eye class: the iris takes the colour
// BakeTexture sampled at the iris landmarks (a default brown without them).
func (h *Head) eyeColour(class uint8) [3]uint8 {
	switch class {
	case eyeWhite:
		return [3]uint8{232, 226, 218}
	case eyePupil:
		return [3]uint8{8, 6, 6}
	case eyeIris:
		if h.Iris != nil {
			return [3]uint8{h.Iris.R, h.Iris.G, h.Iris.B}
		}
		return [3]uint8{92, 62, 40}
	}
	return [3]uint8{255, 255, 255}
}
