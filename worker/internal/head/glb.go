package head

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

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

// WriteGLB writes the head as binary glTF 2.0: one mesh whose 12 primitives
// (ICT's material groups) share the vertices; the base is neutral + identity
// in metres, the 53 expressions are sparse POSITION morph targets named as
// ICT names them (mesh.extras.targetNames), and the default weights are the
// fitted expression. texturePNG (the baked head texture) is embedded as the
// skin materials' base colour; nil leaves them untextured.
func (h *Head) WriteGLB(w io.Writer, texturePNG []byte) (GLBStats, error) {
	tp := loadTopology()
	m := tp.m
	n := len(tp.src)
	if n == 0 || len(h.Base) != len(m.Neutral) {
		return GLBStats{}, errors.New("head: no mesh to write")
	}
	var bin bytes.Buffer
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
	vec := func(dim int, count int, get func(i, k int) float32) ([]byte, []float64, []float64) {
		data := make([]byte, 0, count*dim*4)
		lo, hi := make([]float64, dim), make([]float64, dim)
		for k := range dim {
			lo[k], hi[k] = math.Inf(1), math.Inf(-1)
		}
		for i := range count {
			for k := range dim {
				f := get(i, k)
				data = binary.LittleEndian.AppendUint32(data, math.Float32bits(f))
				lo[k], hi[k] = math.Min(lo[k], float64(f)), math.Max(hi[k], float64(f))
			}
		}
		return data, lo, hi
	}
	ptr := func(i int) *int { return &i }

	pd, plo, phi := vec(3, n, func(i, k int) float32 { return h.Base[tp.src[i]][k] * metresPerCM })
	pos := accessor(gAccessor{BufferView: ptr(view(pd, gltfArray)), ComponentType: gltfFloat, Count: n, Type: "VEC3", Min: plo, Max: phi})
	normals := vertexNormals(h.Base, m)
	nd, _, _ := vec(3, n, func(i, k int) float32 { return float32(normals[tp.src[i]][k]) })
	nrm := accessor(gAccessor{BufferView: ptr(view(nd, gltfArray)), ComponentType: gltfFloat, Count: n, Type: "VEC3"})
	ud, _, _ := vec(2, n, func(i, k int) float32 { return tp.uv[i][k] })
	uv := accessor(gAccessor{BufferView: ptr(view(ud, gltfArray)), ComponentType: gltfFloat, Count: n, Type: "VEC2"})
	cd := make([]byte, 0, 4*n)
	for i := range n {
		c := h.eyeColour(tp.eye[i])
		cd = append(cd, c[0], c[1], c[2], 255)
	}
	col := accessor(gAccessor{BufferView: ptr(view(cd, gltfArray)), ComponentType: gltfUByte, Normalized: true, Count: n, Type: "VEC4"})

	// Sparse morph targets: indices (strictly increasing) of the output
	// vertices whose ICT vertex the expression moves, and their offsets.
	stats := GLBStats{Vertices: n, Targets: len(m.Expressions)}
	idxType := gltfUShort
	if n > math.MaxUint16 {
		idxType = gltfUInt
	}
	dense := make([][3]float32, len(m.Neutral))
	moved := make([]bool, len(m.Neutral))
	targets := make([]map[string]int, len(m.Expressions))
	names := make([]string, len(m.Expressions))
	for j := range m.Expressions {
		s := &m.Expressions[j]
		names[j] = s.Name
		clear(moved)
		for k, v := range s.Index {
			d := s.Delta[k]
			if math.Sqrt(float64(d[0]*d[0]+d[1]*d[1]+d[2]*d[2])) >= MorphEpsilonCM {
				dense[v], moved[v] = d, true
			}
		}
		var idx, vals []byte
		lo, hi := []float64{0, 0, 0}, []float64{0, 0, 0}
		cnt := 0
		for i, v := range tp.src {
			if !moved[v] {
				continue
			}
			if idxType == gltfUShort {
				idx = binary.LittleEndian.AppendUint16(idx, uint16(i))
			} else {
				idx = binary.LittleEndian.AppendUint32(idx, uint32(i))
			}
			for k := range 3 {
				f := dense[v][k] * metresPerCM
				vals = binary.LittleEndian.AppendUint32(vals, math.Float32bits(f))
				lo[k], hi[k] = math.Min(lo[k], float64(f)), math.Max(hi[k], float64(f))
			}
			cnt++
		}
		if cnt == 0 { // a target must not be empty: store one zero offset
			idx = binary.LittleEndian.AppendUint16(idx, 0)
			if idxType == gltfUInt {
				idx = append(idx, 0, 0)
			}
			vals = make([]byte, 12)
			cnt = 1
		}
		stats.MorphVertices += cnt
		a := accessor(gAccessor{ComponentType: gltfFloat, Count: n, Type: "VEC3", Min: lo, Max: hi, Sparse: &gSparse{
			Count:   cnt,
			Indices: gSparseIndex{BufferView: view(idx, 0), ComponentType: idxType},
			Values:  gSparseVals{BufferView: view(vals, 0)},
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
	mesh := gMesh{Name: "head", Weights: h.Fit.Expression, Extras: gMeshExtras{TargetNames: names}}
	for g, name := range m.Materials {
		tris := tp.groups[g]
		if len(tris) == 0 {
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
		var ib []byte
		lo, hi := uint32(math.MaxUint32), uint32(0)
		for _, t := range tris {
			for _, k := range t {
				if idxType == gltfUShort {
					ib = binary.LittleEndian.AppendUint16(ib, uint16(k))
				} else {
					ib = binary.LittleEndian.AppendUint32(ib, k)
				}
				lo, hi = min(lo, k), max(hi, k)
			}
		}
		stats.Triangles += len(tris)
		ia := accessor(gAccessor{BufferView: ptr(view(ib, gltfElements)), ComponentType: idxType, Count: 3 * len(tris), Type: "SCALAR", Min: []float64{float64(lo)}, Max: []float64{float64(hi)}})
		attrs := map[string]int{"POSITION": pos, "NORMAL": nrm, "TEXCOORD_0": uv, "COLOR_0": col}
		mesh.Primitives = append(mesh.Primitives, gPrimitive{Attributes: attrs, Indices: ia, Material: len(doc.Materials) - 1, Mode: 4, Targets: targets})
	}
	doc.Meshes = []gMesh{mesh}
	geometry.PadGLBBin(&bin)
	doc.Buffers[0].ByteLength = bin.Len()
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
