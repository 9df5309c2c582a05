package geometry

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
)

// glTF constants.
const (
	glbMagic        = 0x46546C67 // "glTF"
	glbVersion      = 2
	glbChunkJSON    = 0x4E4F534A // "JSON"
	glbChunkBIN     = 0x004E4942 // "BIN\0"
	gltfFloat       = 5126
	gltfUnsignedSh  = 5123
	gltfArrayBuffer = 34962
	gltfElementBuf  = 34963
	gltfTriangles   = 4
	gltfLinear      = 9729
	gltfLinearMipLn = 9987
	gltfClampToEdge = 33071
)

// glTF JSON document, only the parts WriteGLB uses.
type gltfDoc struct {
	Asset       gltfAsset        `json:"asset"`
	Scene       int              `json:"scene"`
	Scenes      []gltfScene      `json:"scenes"`
	Nodes       []gltfNode       `json:"nodes"`
	Meshes      []gltfMesh       `json:"meshes"`
	Materials   []gltfMaterial   `json:"materials"`
	Textures    []gltfTexture    `json:"textures,omitempty"`
	Images      []gltfImage      `json:"images,omitempty"`
	Samplers    []gltfSampler    `json:"samplers,omitempty"`
	Accessors   []gltfAccessor   `json:"accessors"`
	BufferViews []gltfBufferView `json:"bufferViews"`
	Buffers     []gltfBuffer     `json:"buffers"`
}

type gltfAsset struct {
	Version   string `json:"version"`
	Generator string `json:"generator"`
}

type gltfScene struct {
	Nodes []int `json:"nodes"`
}

type gltfNode struct {
	Name string `json:"name"`
	Mesh int    `json:"mesh"`
}

type gltfMesh struct {
	Name       string          `json:"name"`
	Primitives []gltfPrimitive `json:"primitives"`
}

type gltfPrimitive struct {
	Attributes map[string]int `json:"attributes"`
	Indices    int            `json:"indices"`
	Material   int            `json:"material"`
	Mode       int            `json:"mode"`
}

type gltfMaterial struct {
	Name string  `json:"name"`
	PBR  gltfPBR `json:"pbrMetallicRoughness"`
}

type gltfPBR struct {
	BaseColorTexture *gltfTextureRef `json:"baseColorTexture,omitempty"`
	MetallicFactor   float64         `json:"metallicFactor"`
	RoughnessFactor  float64         `json:"roughnessFactor"`
}

type gltfTextureRef struct {
	Index int `json:"index"`
}

type gltfTexture struct {
	Sampler int `json:"sampler"`
	Source  int `json:"source"`
}

type gltfImage struct {
	BufferView int    `json:"bufferView"`
	MimeType   string `json:"mimeType"`
}

type gltfSampler struct {
	MagFilter int `json:"magFilter"`
	MinFilter int `json:"minFilter"`
	WrapS     int `json:"wrapS"`
	WrapT     int `json:"wrapT"`
}

type gltfAccessor struct {
	BufferView    int       `json:"bufferView"`
	ComponentType int       `json:"componentType"`
	Count         int       `json:"count"`
	Type          string    `json:"type"`
	Min           []float64 `json:"min"`
	Max           []float64 `json:"max"`
}

type gltfBufferView struct {
	Buffer     int `json:"buffer"`
	ByteOffset int `json:"byteOffset"`
	ByteLength int `json:"byteLength"`
	Target     int `json:"target,omitempty"`
}

type gltfBuffer struct {
	ByteLength int `json:"byteLength"`
}

// metresPerCM converts MetricMesh centimetres to glTF metres.
const metresPerCM = 0.01

// WriteGLB writes m as binary glTF 2.0 (one scene, node, mesh and material)
// with texture (a PNG, or a JPEG: glTF's core image formats, told apart by
// their signature) embedded as the material's base colour texture; a nil
// texture leaves the material untextured. Positions are converted from
// centimetres to metres, glTF's unit; UVs are written as they are (glTF's
// origin is the top left, like MediaPipe's).
func WriteGLB(w io.Writer, m *Mesh, texture []byte) error {
	if err := checkMesh(m); err != nil {
		return err
	}
	n := len(m.Positions)
	var bin bytes.Buffer
	bin.Grow(n*32 + len(m.Triangles)*6 + len(texture) + 16)
	doc := gltfDoc{
		Asset:   gltfAsset{Version: "2.0", Generator: "facefleet"},
		Scenes:  []gltfScene{{Nodes: []int{0}}},
		Nodes:   []gltfNode{{Name: "face", Mesh: 0}},
		Buffers: []gltfBuffer{{}},
	}
	// addView appends data as a 4-byte aligned buffer view.
	addView := func(data []byte, target int) int {
		PadGLBBin(&bin)
		doc.BufferViews = append(doc.BufferViews, gltfBufferView{ByteOffset: bin.Len(), ByteLength: len(data), Target: target})
		bin.Write(data)
		return len(doc.BufferViews) - 1
	}
	addAccessor := func(view, ctype, count int, typ string, lo, hi []float64) int {
		doc.Accessors = append(doc.Accessors, gltfAccessor{BufferView: view, ComponentType: ctype, Count: count, Type: typ, Min: lo, Max: hi})
		return len(doc.Accessors) - 1
	}
	floats := func(dim int, get func(i, k int) float32) (data []byte, lo, hi []float64) {
		data = make([]byte, 0, n*dim*4)
		lo, hi = make([]float64, dim), make([]float64, dim)
		for k := range dim {
			lo[k], hi[k] = math.Inf(1), math.Inf(-1)
		}
		for i := range n {
			for k := range dim {
				f := get(i, k)
				data = binary.LittleEndian.AppendUint32(data, math.Float32bits(f))
				lo[k] = math.Min(lo[k], float64(f))
				hi[k] = math.Max(hi[k], float64(f))
			}
		}
		return data, lo, hi
	}
	pd, plo, phi := floats(3, func(i, k int) float32 { return m.Positions[i][k] * metresPerCM })
	posAcc := addAccessor(addView(pd, gltfArrayBuffer), gltfFloat, n, "VEC3", plo, phi)
	nd, nlo, nhi := floats(3, func(i, k int) float32 { return m.Normals[i][k] })
	nrmAcc := addAccessor(addView(nd, gltfArrayBuffer), gltfFloat, n, "VEC3", nlo, nhi)
	ud, ulo, uhi := floats(2, func(i, k int) float32 { return m.UV[i][k] })
	uvAcc := addAccessor(addView(ud, gltfArrayBuffer), gltfFloat, n, "VEC2", ulo, uhi)

	idx := make([]byte, 0, len(m.Triangles)*6)
	ilo, ihi := math.Inf(1), math.Inf(-1)
	for _, t := range m.Triangles {
		for _, k := range t {
			idx = binary.LittleEndian.AppendUint16(idx, k)
			ilo, ihi = math.Min(ilo, float64(k)), math.Max(ihi, float64(k))
		}
	}
	if len(idx) == 0 {
		return fmt.Errorf("%w: mesh has no triangles", ErrInvalidInput)
	}
	idxAcc := addAccessor(addView(idx, gltfElementBuf), gltfUnsignedSh, len(m.Triangles)*3, "SCALAR", []float64{ilo}, []float64{ihi})

	mat := gltfMaterial{Name: MaterialName, PBR: gltfPBR{MetallicFactor: 0, RoughnessFactor: 1}}
	if texture != nil {
		img := addView(texture, 0)
		mime := "image/png"
		if bytes.HasPrefix(texture, []byte{0xff, 0xd8, 0xff}) { // JPEG's SOI and a marker
			mime = "image/jpeg"
		}
		doc.Images = []gltfImage{{BufferView: img, MimeType: mime}}
		doc.Samplers = []gltfSampler{{MagFilter: gltfLinear, MinFilter: gltfLinearMipLn, WrapS: gltfClampToEdge, WrapT: gltfClampToEdge}}
		doc.Textures = []gltfTexture{{Sampler: 0, Source: 0}}
		mat.PBR.BaseColorTexture = &gltfTextureRef{Index: 0}
	}
	doc.Materials = []gltfMaterial{mat}
	doc.Meshes = []gltfMesh{{Name: "face", Primitives: []gltfPrimitive{{
		Attributes: map[string]int{"POSITION": posAcc, "NORMAL": nrmAcc, "TEXCOORD_0": uvAcc},
		Indices:    idxAcc,
		Material:   0,
		Mode:       gltfTriangles,
	}}}}
	PadGLBBin(&bin)
	doc.Buffers[0].ByteLength = bin.Len()
	_, err := WriteGLBContainer(w, doc, bin.Bytes())
	return err
}

// PadGLBBin pads a GLB binary chunk with zeros to a multiple of 4 bytes (the
// alignment of buffer views and of the chunk itself).
func PadGLBBin(bin *bytes.Buffer) {
	for bin.Len()%4 != 0 {
		bin.WriteByte(0)
	}
}

// WriteGLBContainer writes a glTF 2.0 binary: the 12-byte header, doc as the
// JSON chunk (space-padded) and bin (already padded, see PadGLBBin) as the
// BIN chunk. It returns the file's size.
func WriteGLBContainer(w io.Writer, doc any, bin []byte) (int, error) {
	js, err := json.Marshal(doc)
	if err != nil {
		return 0, fmt.Errorf("geometry: encode glTF JSON: %w", err)
	}
	for len(js)%4 != 0 {
		js = append(js, ' ')
	}
	total := 12 + 8 + len(js) + 8 + len(bin)
	if total > math.MaxUint32 {
		return 0, fmt.Errorf("%w: GLB of %d bytes is too large", ErrInvalidInput, total)
	}
	hdr := make([]byte, 0, 20)
	hdr = binary.LittleEndian.AppendUint32(hdr, glbMagic)
	hdr = binary.LittleEndian.AppendUint32(hdr, glbVersion)
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(total))
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(len(js)))
	hdr = binary.LittleEndian.AppendUint32(hdr, glbChunkJSON)
	binHdr := make([]byte, 0, 8)
	binHdr = binary.LittleEndian.AppendUint32(binHdr, uint32(len(bin)))
	binHdr = binary.LittleEndian.AppendUint32(binHdr, glbChunkBIN)
	for _, part := range [][]byte{hdr, js, binHdr, bin} {
		if _, err := w.Write(part); err != nil {
			return 0, err
		}
	}
	return total, nil
}
