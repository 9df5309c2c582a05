package pipeline

import (
	"github.com/facefleet/facefleet/worker/internal/engine"
	"github.com/facefleet/facefleet/worker/internal/geometry"
)

// ResultVersion is the version of result.json (docs/result.schema.json).
const ResultVersion = 2

// Result is result.json: what was done to one image and where the files are.
type Result struct {
	Version   int          `json:"version"`
	Image     ImageInfo    `json:"image"`
	Model     ModelInfo    `json:"model"`
	Options   Options      `json:"options"` // with defaults applied
	TimingsMS Timings      `json:"timings_ms"`
	Faces     []FaceResult `json:"faces"` // left to right by bbox x; never null
}

// ImageInfo describes the decoded, upright image.
type ImageInfo struct {
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	Format      string `json:"format"`      // "jpeg" | "png" | "webp"
	Orientation int    `json:"orientation"` // EXIF orientation applied, 1..8
}

// ModelInfo names the models that produced the result.
type ModelInfo struct {
	Pack      string `json:"pack"`      // models.PackID()
	Precision string `json:"precision"` // "fp32" | "fp16"
	Device    string `json:"device"`    // "cpu", "cuda:0", …
}

// Timings are stage durations in milliseconds. Geometry is absent when the
// stage did not run.
type Timings struct {
	Decode    float64  `json:"decode"`
	Detect    float64  `json:"detect"`
	Landmarks float64  `json:"landmarks"`
	Texture   float64  `json:"texture"`
	Geometry  *float64 `json:"geometry,omitempty"`
	Head      *float64 `json:"head,omitempty"`
	Encode    float64  `json:"encode"`
	Total     float64  `json:"total"`
}

// Stages maps the name of every stage that ran (StageDecode, …) to its
// milliseconds; Total is not a stage and is left out.
func (t Timings) Stages() map[string]float64 {
	m := map[string]float64{
		StageDecode:    t.Decode,
		StageDetect:    t.Detect,
		StageLandmarks: t.Landmarks,
		StageTexture:   t.Texture,
		StageEncode:    t.Encode,
	}
	if t.Geometry != nil {
		m[StageGeometry] = *t.Geometry
	}
	if t.Head != nil {
		m[StageHead] = *t.Head
	}
	return m
}

// FaceResult is one reconstructed face.
type FaceResult struct {
	Index int `json:"index"`
	// BBox is x, y (top left), width, height in pixels of the upright image.
	BBox     [4]float32 `json:"bbox"`
	Score    float32    `json:"score"`    // detection score
	Presence float32    `json:"presence"` // landmark model's face presence
	// Landmarks are 478 × [x, y, z] in pixels (see ARCHITECTURE.md): the
	// 468 FaceMesh points, then the iris of the first eye (468–472, around
	// points 33/133) and of the second (473–477), centre first.
	Landmarks [][3]float32 `json:"landmarks"`
	// Blendshapes are the 51 ARKit blendshape scores in [0, 1] by name
	// (the model's "_neutral" is left out); "Left" is the subject's left.
	Blendshapes map[string]float32 `json:"blendshapes"`
	// Files maps a kind (uv_texture, uv_alpha with uv_format jpeg, mesh_obj,
	// mesh_mtl, mesh_glb, depth, normals, head_*) to its path relative to the
	// result directory.
	Files map[string]string `json:"files"`
	// Pose is present only with Options.Geometry (and a fittable face).
	Pose *geometry.Pose `json:"pose,omitempty"`
	// Head is present only with Options.Head (and a fitted head).
	Head    *HeadResult `json:"head,omitempty"`
	Texture TextureInfo `json:"texture"`
}

// TextureInfo summarises the UV texture. Seen, Mirrored and Empty split the
// texels of the UV layout by where their colour comes from and add up to 1
// (texture.Stats).
type TextureInfo struct {
	Size     int     `json:"size"`     // texels per side
	Coverage float64 `json:"coverage"` // fraction of the UV layout filled, mirror fill included (= seen + mirrored)
	Seen     float64 `json:"seen"`     // share of the layout sampled directly where the photo shows the texel's own surface point
	Mirrored float64 `json:"mirrored"` // share of the texture colour taken from the mirrored side of the face (a half-blended texel counts ½)
	Empty    float64 `json:"empty"`    // share of the layout left transparent: neither side visible in the photo
}

// File kinds used as keys of FaceResult.Files, and their file names (the
// UV texture's and its alpha file's depend on the format: imageenc.FileOf).
const (
	FileUVTexture = "uv_texture"
	FileMeshOBJ   = "mesh_obj"
	FileMeshMTL   = "mesh_mtl"
	FileMeshGLB   = "mesh_glb"
	FileDepth     = "depth"
	FileNormals   = "normals"
	ResultFile    = "result.json"
)

var fileNames = map[string]string{
	FileMeshOBJ: "mesh.obj",
	FileMeshMTL: "mesh.mtl",
	FileMeshGLB: "mesh.glb",
	FileDepth:   "depth.png",
	FileNormals: "normals.png",
}

var contentTypes = map[string]string{
	FileMeshOBJ: "model/obj",
	FileMeshMTL: "model/mtl",
	FileMeshGLB: "model/gltf-binary",
	FileDepth:   "image/png",
	FileNormals: "image/png",
}

// blendshapeScores names the engine's blendshape scores, without
// "_neutral"; nil when the face has none.
func blendshapeScores(scores []float32) map[string]float32 {
	if len(scores) != engine.NumBlendshapes {
		return nil
	}
	m := make(map[string]float32, engine.NumBlendshapes-1)
	for i, name := range engine.BlendshapeNames {
		if i > 0 {
			m[name] = scores[i]
		}
	}
	return m
}
