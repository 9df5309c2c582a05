package engine

import (
	"context"
	"fmt"
	"image"
	"math"
)

// Reference values from MediaPipe's landmark graphs
// (face_detection_front_detection_to_roi.pbtxt, face_landmark_cpu.pbtxt,
// tensors_to_face_landmarks.pbtxt).
const (
	// landmarkSize is the landmark model's square input size.
	landmarkSize = 192
	// roiScale is RectTransformationCalculator's scale_x/scale_y.
	roiScale = 1.5
	// defaultMinPresence is the ThresholdingCalculator threshold.
	defaultMinPresence = 0.5

	landmarkInput    = "input_1"
	landmarkCoords   = "conv2d_21"
	landmarkPresence = "conv2d_31"
)

// FaceCropPixels is the detection box side, in image pixels, at which the
// largest per-face crop (the blendshape model's v2Size input over a ROI
// roiScale times the box) takes one image pixel per input pixel: a face at
// least this large loses no input detail to a smaller decode.
const FaceCropPixels = max(landmarkSize, v2Size) / roiScale

var landmarkOutputs = []string{landmarkCoords, landmarkPresence}

// ROI is the rotated square a face's landmarks are computed in: centre and
// size in image pixels, rotation in radians (positive turns the crop's x axis
// from the image's x axis towards its y axis, i.e. clockwise on screen).
type ROI struct {
	CX, CY, W, H, Rotation float32
}

// Face is a detection with its landmarks.
type Face struct {
	Detection
	// Presence is the landmark model's face-presence score in [0, 1].
	Presence float32
	// ROI is the crop the landmarks were computed in.
	ROI ROI
	// Landmarks are NumLandmarks × (x, y, z) in continuous pixels of the
	// input image (see Detection): the NumMeshLandmarks FaceMesh points,
	// then both irises (see NumLandmarks); z is on x's scale, relative to
	// the face centre, smaller = nearer the camera.
	Landmarks [][3]float32
	// Blendshapes are the 52 ARKit blendshape scores in [0, 1], indexed like
	// BlendshapeNames (index 0 is "_neutral").
	Blendshapes []float32
}

// RoiFromDetection computes the landmark crop of d as MediaPipe's
// FaceDetectionFrontDetectionToRoi graph does: the box centre, rotated so
// the line from the right eye (image left) to the left eye is horizontal
// (target angle 0), the long side squared and scaled by 1.5.
func RoiFromDetection(d Detection) ROI {
	re, le := d.Keypoints[KeypointRightEye], d.Keypoints[KeypointLeftEye]
	rot := normaliseRadians(-math.Atan2(-float64(le[1]-re[1]), float64(le[0]-re[0])))
	side := max(d.Box[2], d.Box[3]) * roiScale
	return ROI{
		CX:       d.Box[0] + d.Box[2]/2,
		CY:       d.Box[1] + d.Box[3]/2,
		W:        side,
		H:        side,
		Rotation: float32(rot),
	}
}

// normaliseRadians maps a to [-π, π).
func normaliseRadians(a float64) float64 {
	return a - 2*math.Pi*math.Floor((a+math.Pi)/(2*math.Pi))
}

// project maps a landmark from crop pixels (0..landmarkSize) to image
// pixels, as LandmarkProjectionCalculator does; z is scaled like x
// (z / input width × ROI width).
func (r ROI) project(x, y, z float32) [3]float32 { return r.projectN(x, y, z, landmarkSize) }

// projectN is project for a crop of size×size pixels. A mirrored ROI
// (negative W) maps x back through the mirror; z scales by |W|.
func (r ROI) projectN(x, y, z float32, size int) [3]float32 {
	sin, cos := math.Sincos(float64(r.Rotation))
	sn, cs := float32(sin), float32(cos)
	a := x/float32(size) - 0.5
	b := y/float32(size) - 0.5
	return [3]float32{
		r.CX + a*r.W*cs - b*r.H*sn,
		r.CY + a*r.W*sn + b*r.H*cs,
		z / float32(size) * abs32(r.W),
	}
}

// landmarkScratch holds per-call scratch reused across Landmarks calls.
type landmarkScratch struct {
	rois  []ROI
	kept  []int     // batch items above the presence threshold
	crops []float32 // their crops, for the attention model
}

func roisOf(faces []Face) []ROI {
	out := make([]ROI, len(faces))
	for i, f := range faces {
		out[i] = f.ROI
	}
	return out
}

// Landmarks computes the 468 FaceMesh landmarks of each detection in img,
// then both irises (478 points in all: MediaPipe's refined-mesh irises from
// the attention model on the same crop) and the 52 blendshape scores.
// Faces whose presence score is below Config.MinPresence are dropped, so the
// result may be shorter than dets; order is kept. When the landmark model has
// a dynamic batch dimension the crops go through in batches of up to
// Config.MaxBatch, otherwise one Run per face.
func (e *Engine) Landmarks(ctx context.Context, img *image.NRGBA, dets []Detection) ([]Face, error) {
	if err := checkImage(img); err != nil {
		return nil, err
	}
	if len(dets) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	s := e.landmark
	rois := e.lmBuf.rois[:0]
	for _, d := range dets {
		rois = append(rois, RoiFromDetection(d))
	}
	e.lmBuf.rois = rois
	// Face Landmarker v2 and the blendshapes need only each detection's
	// ROI: they run beside FaceMesh and the attention model (other
	// sessions, one thread each; on two cores a face's landmark stage takes
	// v2's time instead of the sum), for every detection; the faces FaceMesh
	// drops discard theirs. Every return waits for them first (deferred
	// after the unlock, so it runs before it): the sessions are e.mu's.
	type blendResult struct {
		scores [][]float32
		err    error
	}
	blendDone := make(chan blendResult, 1)
	go func() {
		scores, err := e.blendshapesFor(img, rois)
		blendDone <- blendResult{scores, err}
	}()
	var blend *blendResult
	defer func() {
		if blend == nil {
			<-blendDone
		}
	}()
	const plane = 3 * landmarkSize * landmarkSize
	maxBatch := s.maxBatch(e.cfg.MaxBatch)
	var faces []Face
	var detOf []int // detection index of each face
	for start := 0; start < len(dets); start += maxBatch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := min(maxBatch, len(dets)-start)
		buf, err := s.buffers(n)
		if err != nil {
			return nil, err
		}
		for j := range n {
			cropInto(buf.in[j*plane:(j+1)*plane], img, rois[start+j], landmarkSize)
		}
		outs, err := s.run(n)
		if err != nil {
			return nil, err
		}
		coords, presence := outs[0], outs[1]
		kept := e.lmBuf.kept[:0]
		if len(coords) != n*NumMeshLandmarks*3 || len(presence) != n {
			return nil, fmt.Errorf("%w: landmark outputs %d and %d values for batch %d", ErrModel, len(coords), len(presence), n)
		}
		for j := range n {
			p := sigmoid(presence[j])
			if p < e.cfg.MinPresence {
				continue
			}
			r := rois[start+j]
			f := Face{Detection: dets[start+j], Presence: p, ROI: r, Landmarks: make([][3]float32, NumLandmarks)}
			c := coords[j*NumMeshLandmarks*3:]
			for i := range NumMeshLandmarks {
				f.Landmarks[i] = r.project(c[3*i], c[3*i+1], c[3*i+2])
			}
			faces = append(faces, f)
			detOf = append(detOf, start+j)
			kept = append(kept, j)
		}
		e.lmBuf.kept = kept
		// The irises are the refined mesh's, from the same crops.
		crops := buf.in[:n*plane]
		if len(kept) < n {
			crops = e.lmBuf.crops[:0]
			for _, j := range kept {
				crops = append(crops, buf.in[j*plane:(j+1)*plane]...)
			}
			e.lmBuf.crops = crops
		}
		refined, err := e.refined(crops, roisOf(faces[len(faces)-len(kept):]))
		if err != nil {
			return nil, err
		}
		for i, lm := range refined {
			copy(faces[len(faces)-len(kept)+i].Landmarks[NumMeshLandmarks:], lm[NumMeshLandmarks:])
		}
	}
	r := <-blendDone
	blend = &r
	if r.err != nil {
		return nil, r.err
	}
	for i := range faces {
		faces[i].Blendshapes = r.scores[detOf[i]]
	}
	return faces, nil
}

func sigmoid(x float32) float32 {
	return float32(1 / (1 + math.Exp(-float64(x))))
}
