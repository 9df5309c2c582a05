package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"log/slog"

	"github.com/facefleet/facefleet/models/ict"
	"github.com/facefleet/facefleet/worker/internal/engine"
	"github.com/facefleet/facefleet/worker/internal/geometry"
	"github.com/facefleet/facefleet/worker/internal/head"
)

// StageHead fits ICT-FaceKit's head to every face with a pose (Options.Head).
const StageHead = "head"

// File kinds of the head stage (FaceResult.Files keys).
const (
	FileHeadGLB     = "head_glb"
	FileHeadOBJ     = "head_obj"
	FileHeadMTL     = "head_mtl"
	FileHeadTexture = "head_texture"
)

func init() {
	for kind, f := range map[string][2]string{
		FileHeadGLB:     {"head.glb", "model/gltf-binary"},
		FileHeadOBJ:     {"head.obj", "model/obj"},
		FileHeadMTL:     {"head.mtl", "model/mtl"},
		FileHeadTexture: {"head_texture.png", "image/png"},
	} {
		fileNames[kind], contentTypes[kind] = f[0], f[1]
	}
}

// HeadResult is result.json's "head" object of a face (docs/result.schema.json).
type HeadResult struct {
	// Identity are ICT-FaceKit's 100 identity coefficients (units of one SD).
	Identity []float64 `json:"identity"`
	// Expression are ICT's 53 expression weights in [0, 1] by ICT name
	// (eyeBlink_L …; _L is the subject's left, as MediaPipe's "Left").
	Expression map[string]float64 `json:"expression"`
	// Landmarks68 are the 68 iBUG points of the fitted head (ICT's
	// idx_to_landmark_verts) in pixels, [x, y, z] like landmarks.
	Landmarks68 [][3]float32 `json:"landmarks68"`
	// ReprojectionError is the mean distance between the landmarks and the
	// fitted head's points, % of the interocular distance (outer eye
	// corners); PoorFit is true above head.PoorFitPercent.
	ReprojectionError float64 `json:"reprojection_error"`
	PoorFit           bool    `json:"poor_fit"`
	// Pose maps ICT model centimetres to pixels (the conventions of pose).
	Pose geometry.Pose `json:"pose"`
	// TextureSeen and TextureMirrored are the shares of head_texture.png's
	// face tile taken from the photo directly and from the mirrored side.
	TextureSeen     float64 `json:"texture_seen"`
	TextureMirrored float64 `json:"texture_mirrored"`
}

// headWork is one face's fitted head between the head stage and encode.
type headWork struct {
	head *head.Head
	tex  *image.NRGBA
	ts   head.TextureStats
}

// fitHeads runs the head stage: every face with a pose gets a fitted head
// and its baked texture. A face whose landmarks the fit refuses keeps its
// other outputs (logged, like a face without a pose).
func (p *Pipeline) fitHeads(ctx context.Context, img *image.NRGBA, work []faceWork) error {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	return forEach(ctx, len(work), func(i int) error {
		f := &work[i]
		if f.pose == nil {
			return nil
		}
		bs := make(map[string]float32, len(f.face.Blendshapes))
		for k, v := range f.face.Blendshapes {
			if k < len(engine.BlendshapeNames) {
				bs[engine.BlendshapeNames[k]] = v
			}
		}
		r, err := head.Fit(head.Input{Landmarks: f.face.Landmarks, Blendshapes: bs, Width: w, Height: h})
		if err != nil {
			p.log.Warn("no head for face", slog.Int("face", i), slog.Any("error", err))
			return nil
		}
		if r.Poor {
			p.log.Warn("poor head fit", slog.Int("face", i), slog.Float64("reprojection_error_pct_iod", r.ReprojectionError))
		}
		hd := head.Build(r)
		tex, ts := hd.BakeTexture(img)
		f.head = &headWork{head: hd, tex: tex, ts: ts}
		return nil
	})
}

// encodeHead writes the head files of one face and fills res.Head.
func (p *Pipeline) encodeHead(hw *headWork, res *FaceResult, add func(kind string, write func(*bytes.Buffer) error) ([]byte, error)) error {
	texPNG, err := add(FileHeadTexture, func(b *bytes.Buffer) error { return p.png.Encode(b, hw.tex) })
	if err != nil {
		return err
	}
	steps := []struct {
		kind  string
		write func(*bytes.Buffer) error
	}{
		{FileHeadGLB, func(b *bytes.Buffer) error { _, err := hw.head.WriteGLB(b, texPNG); return err }},
		{FileHeadOBJ, func(b *bytes.Buffer) error { return hw.head.WriteOBJ(b, fileNames[FileHeadMTL]) }},
		{FileHeadMTL, func(b *bytes.Buffer) error { return hw.head.WriteMTL(b, fileNames[FileHeadTexture]) }},
	}
	for _, s := range steps {
		if _, err := add(s.kind, s.write); err != nil {
			return fmt.Errorf("head: %w", err)
		}
	}
	r := hw.head.Fit
	res.Head = &HeadResult{
		Identity:          r.Identity,
		Expression:        r.ExpressionNames(ict.Load()),
		Landmarks68:       r.Landmarks68,
		ReprojectionError: r.ReprojectionError,
		PoorFit:           r.Poor,
		Pose:              r.Pose,
		TextureSeen:       hw.ts.Seen,
		TextureMirrored:   hw.ts.Mirrored,
	}
	return nil
}
