package engine

import (
	"fmt"
	"image"
)

// The blendshape model (models/reference/iris_and_blendshapes.md,
// MediaPipe's face_blendshapes_graph): 146 of the 478 landmarks, x and y in
// image pixels, in; 52 ARKit blendshape scores out.
const (
	blendshapesInput  = "serving_default_input_points:0"
	blendshapesOutput = "StatefulPartitionedCall:0"
	// NumBlendshapes is the length of Face.Blendshapes and BlendshapeNames.
	NumBlendshapes = 52

	// The Face Landmarker v2 landmark model (models/cmd/tflite2onnx from
	// MediaPipe's face_landmarker_v2_with_blendshapes.task): 478 points on a
	// 256×256 crop of the same ROI. The blendshape model was trained on its
	// points, so they are its input (FaceMesh v1's eyes stay open on a
	// wink: kj_test2 scores eyeBlinkRight 0.04 from v1 points, 0.59 in
	// MediaPipe's own Face Landmarker).
	v2Size     = 256
	v2Input    = "input_12"
	v2Coords   = "Identity"
	v2Presence = "Identity_1"
)

// blendshapeLandmarks is the model's input subset of the 478 landmarks.
var blendshapeLandmarks = [146]int{
	0, 1, 4, 5, 6, 7, 8, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58, 61, 63, 65, 66, 67, 70, 78, 80,
	81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133, 136, 144, 145, 146, 148, 149, 150, 152, 153, 154, 155, 157, 158, 159, 160,
	161, 162, 163, 168, 172, 173, 176, 178, 181, 185, 191, 195, 197, 234, 246, 249, 251, 263, 267, 269, 270, 276, 282, 283, 284, 285, 288, 291, 293, 295,
	296, 297, 300, 308, 310, 311, 312, 314, 317, 318, 321, 323, 324, 332, 334, 336, 338, 356, 361, 362, 365, 373, 374, 375, 377, 378, 379, 380, 381, 382,
	384, 385, 386, 387, 388, 389, 390, 397, 398, 400, 402, 405, 409, 415, 454, 466, 468, 469, 470, 471, 472, 473, 474, 475, 476, 477,
}

// BlendshapeNames are the model's outputs in order: ARKit names, index 0
// "_neutral" (not a blendshape; results skip it). "Left"/"Right" are the
// subject's (checked on a photo with the subject's left eye closed: see
// TestBlendshapeSides).
var BlendshapeNames = [NumBlendshapes]string{
	"_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
	"cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight",
	"eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft",
	"eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight",
	"eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose",
	"mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel",
	"mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight",
	"mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
	"mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight",
	"mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight",
}

// blendshapesFor scores the blendshapes of each ROI from its Face
// Landmarker v2 points. It uses only the v2 and blendshape sessions, so it
// may run beside FaceMesh and the attention model. Caller holds e.mu.
func (e *Engine) blendshapesFor(img *image.NRGBA, rois []ROI) ([][]float32, error) {
	s := e.blend
	out := make([][]float32, len(rois))
	for i, roi := range rois {
		lm, err := e.landmarksV2(img, roi)
		if err != nil {
			return nil, err
		}
		buf, err := s.buffers(1)
		if err != nil {
			return nil, err
		}
		for k, idx := range blendshapeLandmarks {
			buf.in[2*k], buf.in[2*k+1] = lm[idx][0], lm[idx][1]
		}
		outs, err := s.run(1)
		if err != nil {
			return nil, err
		}
		if len(outs[0]) != NumBlendshapes {
			return nil, fmt.Errorf("%w: blendshape output has %d values", ErrModel, len(outs[0]))
		}
		out[i] = append([]float32(nil), outs[0]...)
	}
	return out, nil
}

// landmarksV2 runs the Face Landmarker v2 landmark model on roi and returns
// its 478 points in image pixels.
func (e *Engine) landmarksV2(img *image.NRGBA, roi ROI) ([][3]float32, error) {
	s := e.v2
	buf, err := s.buffers(1)
	if err != nil {
		return nil, err
	}
	cropInto(buf.in, img, roi, v2Size)
	outs, err := s.run(1)
	if err != nil {
		return nil, err
	}
	c := outs[0]
	if len(c) != NumLandmarks*3 {
		return nil, fmt.Errorf("%w: v2 landmark output has %d values", ErrModel, len(c))
	}
	lm := make([][3]float32, NumLandmarks)
	for k := range lm {
		lm[k] = roi.projectN(c[3*k], c[3*k+1], c[3*k+2], v2Size)
	}
	return lm, nil
}
