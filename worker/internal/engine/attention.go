package engine

import (
	"fmt"

	"github.com/facefleet/facefleet/models"
)

// The FaceMesh-with-attention model (models.LandmarkAttention, MediaPipe's
// refineLandmarks model): the FaceMesh crop in; the 468-point mesh and the
// irises out (the pack prunes its lips, eye-contour and face-flag outputs),
// in pixels of the 192×192 crop (tensors_to_face_landmarks_with_attention:
// x, y only for the irises).
const attentionInput = "input_1"

// attentionOutputs are the model's outputs the engine reads, and
// attentionParts their positions in models.Refinement.Indexes (the mesh
// first).
var (
	attentionOutputs = []string{"output_mesh_identity", "output_left_iris", "output_right_iris"}
	attentionParts   = []int{0, 4, 5}
)

// refined runs the attention model on n crops (FaceMesh inputs, 3×192×192
// each, back to back), the i-th taken in rois[i], and returns for each
// MediaPipe's 478 refined landmarks in image pixels, assembled as
// LandmarksRefinementCalculator does. With a dynamic batch dimension the
// crops go through in batches of up to Config.MaxBatch. Caller holds e.mu.
func (e *Engine) refined(crops []float32, rois []ROI) ([][][3]float32, error) {
	const plane = 3 * landmarkSize * landmarkSize
	s := e.attention
	ref := models.AttentionRefinement()
	out := make([][][3]float32, 0, len(rois))
	maxBatch := s.maxBatch(e.cfg.MaxBatch)
	for start := 0; start < len(rois); start += maxBatch {
		n := min(maxBatch, len(rois)-start)
		buf, err := s.buffers(n)
		if err != nil {
			return nil, err
		}
		copy(buf.in, crops[start*plane:(start+n)*plane])
		outs, err := s.run(n)
		if err != nil {
			return nil, err
		}
		for k, o := range outs {
			per := 2 // x, y
			if k == 0 {
				per = 3 // the mesh: x, y, z
			}
			if len(o) != n*per*len(ref.Indexes[attentionParts[k]]) {
				return nil, fmt.Errorf("%w: attention output %s has %d values for batch %d", ErrModel, attentionOutputs[k], len(o), n)
			}
		}
		for j := range n {
			out = append(out, refine(ref, outs, j, rois[start+j]))
		}
	}
	return out, nil
}

// refine assembles item j of the attention outputs into 478 landmarks as
// LandmarksRefinementCalculator does: the mesh (x, y, z), then the irises'
// x and y over it, each iris's z the mean z of its eye contour. Landmarks of
// the pruned outputs (lips, eye contours) keep the mesh's values.
func refine(ref models.Refinement, outs [][]float32, j int, roi ROI) [][3]float32 {
	lm := make([][3]float32, NumLandmarks)
	mesh := outs[0][j*3*len(ref.Indexes[0]):]
	for i, dst := range ref.Indexes[0] {
		lm[dst] = roi.project(mesh[3*i], mesh[3*i+1], mesh[3*i+2])
	}
	for k := 1; k < len(outs); k++ {
		part := attentionParts[k]
		pts := outs[k][j*2*len(ref.Indexes[part]):]
		for i, dst := range ref.Indexes[part] {
			z := lm[dst][2]
			if iris := part - (len(ref.Indexes) - len(ref.IrisZFrom)); iris >= 0 {
				z = 0
				for _, m := range ref.IrisZFrom[iris] {
					z += lm[m][2]
				}
				z /= float32(len(ref.IrisZFrom[iris]))
			}
			p := roi.project(pts[2*i], pts[2*i+1], 0)
			lm[dst] = [3]float32{p[0], p[1], z}
		}
	}
	return lm
}
