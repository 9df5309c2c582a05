package engine

import (
	"context"
	"fmt"
	"image"
	"math"
	"slices"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/facefleet/facefleet/models"
)

// Reference values from MediaPipe's face detection graphs
// (models/reference/face_detection*.pbtxt).
const (
	// DefaultMinScore is the detection score threshold of both detector
	// graphs (min_score_thresh).
	DefaultMinScore float32 = 0.5
	// scoreClip is score_clipping_thresh: raw logits are clipped to ±100
	// before the sigmoid.
	scoreClip = 100
	// nmsThreshold is NonMaxSuppression's min_suppression_threshold (IoU).
	nmsThreshold = 0.3
	// numCoords is num_coords: 4 box values then 6 keypoints × (x, y).
	numCoords    = 16
	numKeypoints = 6
)

// Detector names accepted by DetectOptions.
const (
	DetectorShort = "short" // BlazeFace short-range, 128×128: faces within ~2 m
	DetectorFull  = "full"  // BlazeFace full-range ("back"), 256×256: smaller faces
)

// Keypoint indices of Detection.Keypoints. "Right" and "left" are the
// subject's: the right eye is on the image's left.
const (
	KeypointRightEye = iota
	KeypointLeftEye
	KeypointNoseTip
	KeypointMouth
	KeypointRightEar
	KeypointLeftEar
)

// DetectOptions tunes Detect.
type DetectOptions struct {
	// Detector is DetectorShort or DetectorFull; "" means DetectorShort.
	Detector string
	// MaxFaces caps the detections returned (highest scores first);
	// 0 means no cap.
	MaxFaces int
	// MinScore is the score threshold; 0 means DefaultMinScore.
	MinScore float32
	// Frame, when not empty, is the whole picture img is a part of, in
	// img's coordinates (those of img.Rect, which it is widened to contain): the
	// detector letterboxes that frame as it would the whole picture, with
	// img's pixels in their place and, outside img, Background's (the
	// whole frame at any resolution, same aspect) or black without one. A
	// decode of part of a picture is then detected as the whole picture
	// would be. Detections stay in img's pixels.
	Frame image.Rectangle
	// Background is the whole frame for Frame; ignored without it.
	Background *image.NRGBA
}

// Detection is one detected face. Coordinates are continuous pixel
// coordinates of the input image: the centre of pixel (i, j) is
// (i+0.5, j+0.5), which is MediaPipe's normalised coordinates × image size.
type Detection struct {
	Box       [4]float32    // x, y (top-left), width, height in pixels
	Score     float32       // sigmoid score in [0, 1]
	Keypoints [6][2]float32 // see the Keypoint* constants; pixels
}

// detectorSpec is the SSD configuration of one BlazeFace model.
type detectorSpec struct {
	name    string
	model   models.Model
	size    int   // square input size, also x/y/w/h_scale
	strides []int // SsdAnchorsCalculator strides (num_layers = len)
}

// shortRange is face_detection_short_range.pbtxt: 128×128, strides
// 8,16,16,16 → 16×16×2 + 8×8×6 = 896 anchors.
var shortRange = detectorSpec{DetectorShort, models.DetectorShort, 128, []int{8, 16, 16, 16}}

// fullRange is the 256×256 "back" model. MediaPipe's back-camera graph uses
// strides 16,32,32,32, which gives 16×16×2 + 8×8×6 = 896 anchors: exactly the
// model's 512 + 384 outputs.
var fullRange = detectorSpec{DetectorFull, models.DetectorFull, 256, []int{16, 32, 32, 32}}

// DetectorInputSize is the square input side, in pixels, of detector
// (DetectorFull: 256; anything else is the short-range model's 128, as in
// Detect).
func DetectorInputSize(detector string) int {
	if detector == DetectorFull {
		return fullRange.size
	}
	return shortRange.size
}

// anchor is an SSD anchor centre in normalised input coordinates. With
// fixed_anchor_size every anchor is 1×1, so only centres are kept.
type anchor struct{ x, y float32 }

// ssdAnchors generates anchors as MediaPipe's SsdAnchorsCalculator does with
// the face options (aspect ratio 1.0, interpolated scale aspect ratio 1.0,
// offsets 0.5, fixed anchor size): consecutive layers with the same stride
// share one feature map and each layer adds two anchors per cell. Order is
// feature map, then row, then column, then anchor.
func ssdAnchors(size int, strides []int) []anchor {
	var out []anchor
	for l := 0; l < len(strides); {
		perCell := 0
		last := l
		for last < len(strides) && strides[last] == strides[l] {
			perCell += 2
			last++
		}
		fm := int(math.Ceil(float64(size) / float64(strides[l])))
		for y := range fm {
			for x := range fm {
				a := anchor{(float32(x) + 0.5) / float32(fm), (float32(y) + 0.5) / float32(fm)}
				for range perCell {
					out = append(out, a)
				}
			}
		}
		l = last
	}
	return out
}

// detector is one BlazeFace session plus its anchors and scratch space.
type detector struct {
	spec    detectorSpec
	sess    *session
	anchors []anchor
	cands   []rawDetection
	kept    []rawDetection
}

func newDetector(spec detectorSpec, so *ort.SessionOptions, p models.Precision) (*detector, error) {
	s, err := newSession(spec.model, so, p, "input:0", []string{"Identity:0", "Identity_1:0", "Identity_2:0", "Identity_3:0"})
	if err != nil {
		return nil, err
	}
	d := &detector{spec: spec, sess: s, anchors: ssdAnchors(spec.size, spec.strides)}
	if err := s.expectInput(int64(spec.size), int64(spec.size), 3); err != nil {
		s.destroy()
		return nil, err
	}
	n := 0
	for i := 0; i < 2; i++ {
		n += int(s.outs[i].Dimensions[1])
		if s.outs[i].Dimensions[1] != s.outs[i+2].Dimensions[1] || s.outs[i+2].Dimensions[2] != numCoords {
			s.destroy()
			return nil, fmt.Errorf("%w: %s: score/box outputs disagree: %v", ErrModel, spec.model, s.outs)
		}
	}
	if n != len(d.anchors) {
		s.destroy()
		return nil, fmt.Errorf("%w: %s: %d outputs for %d anchors", ErrModel, spec.model, n, len(d.anchors))
	}
	return d, nil
}

// rawDetection is a decoded detection in normalised tensor coordinates.
type rawDetection struct {
	xmin, ymin, xmax, ymax float32
	score                  float32
	kp                     [numKeypoints][2]float32
}

// decode turns the model outputs into detections above minScore
// (TensorsToDetectionsCalculator with reverse_output_order, sigmoid scores
// clipped at ±100, scales = input size). Outputs come as two score tensors
// and two box tensors, one per feature map, in anchor order.
func (d *detector) decode(outs [][]float32, minScore float32) []rawDetection {
	cands := d.cands[:0]
	scale := float32(d.spec.size)
	i := 0
	for part := 0; part < 2; part++ {
		scores, boxes := outs[part], outs[part+2]
		for j, raw := range scores {
			a := d.anchors[i]
			i++
			raw = min(max(raw, -scoreClip), scoreClip)
			score := float32(1 / (1 + math.Exp(-float64(raw))))
			if score < minScore {
				continue
			}
			b := boxes[j*numCoords : (j+1)*numCoords]
			xc := b[0]/scale + a.x
			yc := b[1]/scale + a.y
			w := b[2] / scale
			h := b[3] / scale
			r := rawDetection{xmin: xc - w/2, ymin: yc - h/2, xmax: xc + w/2, ymax: yc + h/2, score: score}
			for k := range numKeypoints {
				r.kp[k] = [2]float32{b[4+2*k]/scale + a.x, b[5+2*k]/scale + a.y}
			}
			cands = append(cands, r)
		}
	}
	d.cands = cands
	return cands
}

// iou is MediaPipe's INTERSECTION_OVER_UNION overlap similarity.
func iou(a, b *rawDetection) float32 {
	ix := min(a.xmax, b.xmax) - max(a.xmin, b.xmin)
	iy := min(a.ymax, b.ymax) - max(a.ymin, b.ymin)
	if ix <= 0 || iy <= 0 {
		return 0
	}
	inter := ix * iy
	union := (a.xmax-a.xmin)*(a.ymax-a.ymin) + (b.xmax-b.xmin)*(b.ymax-b.ymin) - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}

// weightedNMS is MediaPipe's WEIGHTED non-max suppression: take the
// best-scoring remaining detection, gather every remaining detection whose
// IoU with it exceeds threshold (itself included), and emit the
// score-weighted average of their boxes and keypoints with the best score.
// cands is reordered; the result is appended to dst in descending score.
func weightedNMS(dst, cands []rawDetection, threshold float32, maxOut int) []rawDetection {
	slices.SortStableFunc(cands, func(a, b rawDetection) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return 0
	})
	remaining := cands
	for len(remaining) > 0 && (maxOut <= 0 || len(dst) < maxOut) {
		best := remaining[0]
		var sum rawDetection
		var total float32
		rest := remaining[:0]
		// Compacting in place is safe: rest never overtakes the read index,
		// and best was copied out first.
		for _, c := range remaining {
			if iou(&c, &best) > threshold {
				w := c.score
				total += w
				sum.xmin += c.xmin * w
				sum.ymin += c.ymin * w
				sum.xmax += c.xmax * w
				sum.ymax += c.ymax * w
				for k := range numKeypoints {
					sum.kp[k][0] += c.kp[k][0] * w
					sum.kp[k][1] += c.kp[k][1] * w
				}
				continue
			}
			rest = append(rest, c)
		}
		out := best
		if total > 0 {
			out.xmin, out.ymin, out.xmax, out.ymax = sum.xmin/total, sum.ymin/total, sum.xmax/total, sum.ymax/total
			for k := range numKeypoints {
				out.kp[k] = [2]float32{sum.kp[k][0] / total, sum.kp[k][1] / total}
			}
		}
		dst = append(dst, out)
		if len(rest) == len(remaining) {
			// Degenerate best box (no overlap with itself): MediaPipe stops.
			break
		}
		remaining = rest
	}
	return dst
}

// Detect finds faces in img with the chosen BlazeFace detector. No face is
// not an error: it returns an empty slice. Detections come in descending
// score order.
func (e *Engine) Detect(ctx context.Context, img *image.NRGBA, o DetectOptions) ([]Detection, error) {
	if err := checkImage(img); err != nil {
		return nil, err
	}
	if o.MaxFaces < 0 || o.MinScore < 0 || o.MinScore > 1 {
		return nil, fmt.Errorf("%w: MaxFaces %d, MinScore %v", ErrInvalidOptions, o.MaxFaces, o.MinScore)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	var d *detector
	switch o.Detector {
	case "", DetectorShort:
		d = e.short
	case DetectorFull:
		d = e.full
	default:
		return nil, fmt.Errorf("%w: detector %q (want %q or %q)", ErrInvalidOptions, o.Detector, DetectorShort, DetectorFull)
	}
	minScore := o.MinScore
	if minScore == 0 {
		minScore = DefaultMinScore
	}
	buf, err := d.sess.buffers(1)
	if err != nil {
		return nil, err
	}
	frame, keep := img.Rect, false
	if !o.Frame.Empty() {
		frame = o.Frame.Union(img.Rect)
		if o.Background != nil && !o.Background.Rect.Empty() {
			letterboxInto(buf.in, o.Background, d.spec.size) // then img over it
			keep = true
		}
	}
	lb := letterboxFrameInto(buf.in, img, d.spec.size, frame, keep)
	outs, err := d.sess.run(1)
	if err != nil {
		return nil, err
	}
	cands := d.decode(outs, minScore)
	d.kept = weightedNMS(d.kept[:0], cands, nmsThreshold, o.MaxFaces)
	dets := make([]Detection, len(d.kept))
	size := float32(d.spec.size)
	for i, r := range d.kept {
		x0, y0 := lb.toImage(r.xmin*size, r.ymin*size)
		x1, y1 := lb.toImage(r.xmax*size, r.ymax*size)
		dets[i] = Detection{Box: [4]float32{x0, y0, x1 - x0, y1 - y0}, Score: r.score}
		for k := range numKeypoints {
			x, y := lb.toImage(r.kp[k][0]*size, r.kp[k][1]*size)
			dets[i].Keypoints[k] = [2]float32{x, y}
		}
	}
	return dets, nil
}

func checkImage(img *image.NRGBA) error {
	if img == nil || img.Rect.Empty() {
		return fmt.Errorf("%w: empty image", ErrInvalidOptions)
	}
	return nil
}
