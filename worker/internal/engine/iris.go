package engine

import (
	"fmt"
	"image"
	"math"
)

// Reference values from MediaPipe's iris graphs
// (models/reference/iris_and_blendshapes.md: iris_landmark_landmarks_to_roi,
// iris_landmark_cpu).
const (
	// NumMeshLandmarks is the FaceMesh model's point count: Face.Landmarks
	// [0, NumMeshLandmarks) are the mesh vertices.
	NumMeshLandmarks = 468
	// NumIrisLandmarks is the points per iris: centre first, then four on
	// the iris boundary.
	NumIrisLandmarks = 5
	// NumLandmarks is the length of Face.Landmarks: the mesh, then the iris
	// of the first eye (around mesh 33/133, image left on a frontal face)
	// as 468–472 and of the second (around 362/263) as 473–477, the layout
	// of MediaPipe's refined mesh and Face Landmarker.
	NumLandmarks = NumMeshLandmarks + 2*NumIrisLandmarks

	irisSize   = 64  // the iris model's square input
	irisScale  = 2.3 // RectTransformation scale of the eye ROI
	irisInput  = "input_1"
	irisOutput = "output_iris"
	irisEyes   = "output_eyes_contours_and_brows"
)

var irisOutputs = []string{irisEyes, irisOutput}

// eyeCorners are the mesh points bounding each eye, in the order that gives
// the ROI rotation (start → end keypoint); the second eye is flipped before
// inference (the model knows one eye only).
var eyeCorners = [2][2]int{{33, 133}, {362, 263}}

// irisMirrorOrder maps the iris model's points of a flipped eye to the
// 478-point layout. The model returns centre, then the boundary at crop
// +x, −y, −x, +y; MediaPipe's refined mesh (and the blendshape model trained
// on it) orders both eyes by image direction (469/474 on the +x side,
// 471/476 on −x: checked on testdata/oracle/*.refine.json), so a flipped
// eye's ±x points swap.
var irisMirrorOrder = [NumIrisLandmarks]int{0, 3, 2, 1, 4}

// EyeROI is MediaPipe's iris ROI from two eye-corner landmarks: the centre
// of their bounding box, rotated so a→b is horizontal, the box's long side
// squared and scaled by 2.3. A flipped ROI has a negative width: the crop
// samples it mirrored and projection maps back through the same mirror.
func EyeROI(a, b [3]float32, flip bool) ROI {
	rot := normaliseRadians(-math.Atan2(-float64(b[1]-a[1]), float64(b[0]-a[0])))
	side := max(abs32(b[0]-a[0]), abs32(b[1]-a[1])) * irisScale
	r := ROI{CX: (a[0] + b[0]) / 2, CY: (a[1] + b[1]) / 2, W: side, H: side, Rotation: float32(rot)}
	if flip {
		r.W = -r.W
	}
	return r
}

func abs32(x float32) float32 { return float32(math.Abs(float64(x))) }

// irisInto runs the iris model on both eyes of each face and appends the 10
// iris points to its landmarks. Caller holds e.mu.
func (e *Engine) irisInto(img *image.NRGBA, faces []Face) error {
	s := e.iris
	const plane = 3 * irisSize * irisSize
	// Both eyes of as many faces as the batch allows.
	type eye struct {
		face, side int
		roi        ROI
	}
	eyes := make([]eye, 0, 2*len(faces))
	for i := range faces {
		lm := faces[i].Landmarks
		for side, c := range eyeCorners {
			eyes = append(eyes, eye{i, side, EyeROI(lm[c[0]], lm[c[1]], side == 1)})
		}
	}
	maxBatch := s.maxBatch(2 * e.cfg.MaxBatch)
	for start := 0; start < len(eyes); start += maxBatch {
		n := min(maxBatch, len(eyes)-start)
		buf, err := s.buffers(n)
		if err != nil {
			return err
		}
		for j := range n {
			cropInto(buf.in[j*plane:(j+1)*plane], img, eyes[start+j].roi, irisSize)
		}
		outs, err := s.run(n)
		if err != nil {
			return err
		}
		iris := outs[1]
		if len(iris) != n*NumIrisLandmarks*3 {
			return fmt.Errorf("%w: iris output %d values for batch %d", ErrModel, len(iris), n)
		}
		for j := range n {
			ey := eyes[start+j]
			f := &faces[ey.face]
			c := iris[j*NumIrisLandmarks*3:]
			for k := range NumIrisLandmarks {
				dst := k
				if ey.roi.W < 0 {
					dst = irisMirrorOrder[k]
				}
				f.Landmarks[NumMeshLandmarks+ey.side*NumIrisLandmarks+dst] = ey.roi.projectN(c[3*k], c[3*k+1], c[3*k+2], irisSize)
			}
		}
	}
	return nil
}
