package pipeline

import (
	"context"
	"fmt"
	"image"
	"math"
	"sync"
	"time"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/worker/internal/engine"
	"github.com/facefleet/facefleet/worker/internal/imagedecode"
)

// The decode stage decodes less of a large JPEG than the whole picture at
// full size when the faces in it need less: a phone's 12 MP photo is 48 MB
// of NRGBA, while the detector sees 128 or 256 pixels, the landmark and
// blendshape crops 192 and 256, and the UV texture needs about its own size
// across the face. So, for a JPEG over reduceMinPixels (and no head, whose
// texture bakes from the photo in its own pixels):
//
//  1. decode at the smallest DCT scale whose long side is at least twice
//     the detector's input (1/8 for 12 MP: the DC coefficients only) and
//     detect there;
//  2. pick the smallest DCT scale at which every face's box keeps at least
//     the pixels its stages need (engine.FaceCropPixels, and the texture's
//     face span: the canonical UV layout's extent × UVSize), and the region
//     around the faces (regionHalf box sides from each centre, plus
//     cutMargin);
//  3. decode that region at that scale (imagedecode.DecodeRequest: the
//     rows above it entropy-decoded only, the rows below not read, only
//     the region transformed and upsampled) for the landmarks
//     and texture to run on as before (and the detector, when the region
//     is the whole frame: see decode);
//  4. map every coordinate back to the whole picture's pixels (faceToFull),
//     so result.json, the pose and the depth and normal maps are what a
//     whole decode gives, within the differences of the pixels.
//
// No face in the pre-pass, or a plan that is the whole picture at scale 1,
// decodes whole: faces that are already no larger than they need change
// only by the crop.
const (
	// reduceMinPixels: a picture of at most this many pixels (16 MB of
	// NRGBA) is decoded whole, as it always was.
	reduceMinPixels = 4_000_000
	// regionHalf is the half-side, in box sides, of the square kept around
	// each face: the landmark ROI (1.5 boxes square, rotated: up to 1.07
	// from the centre) plus room for the pre-pass box's error.
	regionHalf = 1.3
	// cutMargin (full-size pixels) is added beyond that: two 16-pixel MCUs,
	// as near a cut chroma upsampling differs from the whole decode's.
	cutMargin = 32
	// maxRegionShare: a region covering more of the picture is not cut
	// out: it would save little, and a whole frame is detected again at its
	// own resolution, which keeps results nearer a whole decode's (0.04 %
	// of the inter-ocular distance on the test's upscaled photo, against
	// 0.36 % with the pre-pass's boxes in a region).
	maxRegionShare = 0.6
)

// uvSpan is the larger side of the canonical UV layout's bounding box, as a
// share of the texture: the texture wants about UVSize·uvSpan pixels
// across the face to sample one photo pixel per texel.
var uvSpan = sync.OnceValue(func() float64 {
	lo, hi := [2]float32{1, 1}, [2]float32{0, 0}
	for _, uv := range models.Canonical().UV {
		for i := range 2 {
			lo[i], hi[i] = min(lo[i], uv[i]), max(hi[i], uv[i])
		}
	}
	return float64(max(hi[0]-lo[0], hi[1]-lo[1]))
})

// decoded is what the decode stage hands on.
type decoded struct {
	img *imagedecode.Image
	// dets, when not nil, are the faces in img's pixels, from the
	// pre-pass: the detect stage uses them instead of running the detector.
	dets []engine.Detection
	// detect is the time the pre-pass spent detecting.
	detect time.Duration
}

// decode is the decode stage: the image the other stages work on, whole or
// reduced as above. A reduced image that is a region keeps the pre-pass's
// detections (mapped into it): the detector must see the framing a whole
// decode gives it (it sees 128 or 256 pixels of the whole frame either
// way), not the cut-out region, where a face is larger and is boxed
// differently — on the framed test photo that moved the landmarks 1.6 %
// of the inter-ocular distance, the pre-pass's boxes 0.36 %. A whole frame
// at a smaller scale is detected again, at its finer resolution.
func (p *Pipeline) decode(ctx context.Context, data []byte, o Options) (decoded, error) {
	pl, err := p.plan(ctx, data, o)
	if err != nil || pl.img != nil {
		return decoded{img: pl.img, detect: pl.detect}, err
	}
	img, err := imagedecode.DecodeRequest(data, p.lim, pl.req)
	d := decoded{img: img, detect: pl.detect}
	if err == nil && !pl.req.Region.Empty() {
		d.dets = make([]engine.Detection, len(pl.dets))
		for i, f := range pl.dets {
			d.dets[i] = detectionFromFull(img, f)
		}
	}
	return d, err
}

// decodePlan is what plan decided.
type decodePlan struct {
	req    imagedecode.Request // the zero Request: whole
	dets   []engine.Detection  // the pre-pass's, in the whole picture's pixels
	detect time.Duration       // the pre-pass's detection time
	// img, when not nil, is the decoded picture already: the pre-pass
	// came back whole (a CMYK JPEG: image/jpeg, full size).
	img *imagedecode.Image
}

// plan decides what to decode: whole unless a reduced decode applies.
func (p *Pipeline) plan(ctx context.Context, data []byte, o Options) (decodePlan, error) {
	var whole decodePlan
	if p.wholeDecode || o.Head || imagedecode.Sniff(data) != imagedecode.FormatJPEG {
		return whole, nil
	}
	hdr, err := imagedecode.DecodeHeader(data, p.lim)
	if err != nil {
		return whole, err
	}
	if int64(hdr.Width)*int64(hdr.Height) <= reduceMinPixels {
		return whole, nil
	}
	scales := imagedecode.JPEGScales() // smallest first
	long := float64(max(hdr.Width, hdr.Height))
	preScale := imagedecode.Scale{Num: 1, Denom: 1}
	for _, s := range scales {
		if s.Factor() <= 1 && s.Factor()*long >= float64(2*engine.DetectorInputSize(o.Detector)) {
			preScale = s
			break
		}
	}
	if preScale.Factor() == 1 {
		return whole, nil
	}
	pre, err := imagedecode.DecodeRequest(data, p.lim, imagedecode.Request{Scale: preScale})
	if err != nil {
		return whole, err
	}
	if !pre.Reduced() {
		return decodePlan{img: pre}, nil
	}
	defer pre.Release()
	t := time.Now()
	dets, err := p.model.Detect(ctx, pre.NRGBA, engine.DetectOptions{Detector: o.Detector, MaxFaces: o.MaxFaces})
	whole.detect = time.Since(t)
	if err != nil {
		return whole, fmt.Errorf("pipeline: detect (pre-pass at %d/%d): %w", preScale.Num, preScale.Denom, err)
	}
	if len(dets) == 0 {
		return whole, nil
	}
	need := max(engine.FaceCropPixels, uvSpan()*float64(o.UVSize))
	full := image.Rect(0, 0, pre.Full.X, pre.Full.Y)
	var want float64
	var region image.Rectangle
	for i, d := range dets {
		d = detectionToFull(pre, d)
		dets[i] = d
		side := float64(max(d.Box[2], d.Box[3]))
		want = max(want, need/side)
		cx, cy := float64(d.Box[0]+d.Box[2]/2), float64(d.Box[1]+d.Box[3]/2)
		half := regionHalf*side + cutMargin
		region = region.Union(image.Rect(
			int(math.Floor(cx-half)), int(math.Floor(cy-half)),
			int(math.Ceil(cx+half)), int(math.Ceil(cy+half)),
		).Intersect(full))
	}
	req := imagedecode.Request{Scale: imagedecode.Scale{Num: 1, Denom: 1}, Region: region}
	for _, s := range scales {
		if s.Factor() >= want && s.Factor() <= 1 {
			req.Scale = s
			break
		}
	}
	if float64(region.Dx())*float64(region.Dy()) > maxRegionShare*float64(full.Dx())*float64(full.Dy()) {
		req.Region = image.Rectangle{}
	}
	p.log.Debug("reduced decode", "width", hdr.Width, "height", hdr.Height, "faces", len(dets),
		"scale", fmt.Sprintf("%d/%d", req.Scale.Num, req.Scale.Denom), "region", req.Region)
	return decodePlan{req: req, dets: dets, detect: whole.detect}, nil
}

// detectionToFull maps d, found in img, to the whole upright picture's pixels.
func detectionToFull(img *imagedecode.Image, d engine.Detection) engine.Detection {
	k := float32(1 / img.Scale.Factor())
	d.Box[0], d.Box[1] = img.ToFull(d.Box[0], d.Box[1])
	d.Box[2], d.Box[3] = d.Box[2]*k, d.Box[3]*k
	for i := range d.Keypoints {
		d.Keypoints[i][0], d.Keypoints[i][1] = img.ToFull(d.Keypoints[i][0], d.Keypoints[i][1])
	}
	return d
}

// detectionFromFull maps d from the whole picture's pixels into img's.
func detectionFromFull(img *imagedecode.Image, d engine.Detection) engine.Detection {
	k := float32(img.Scale.Factor())
	d.Box[0], d.Box[1] = img.FromFull(d.Box[0], d.Box[1])
	d.Box[2], d.Box[3] = d.Box[2]*k, d.Box[3]*k
	for i := range d.Keypoints {
		d.Keypoints[i][0], d.Keypoints[i][1] = img.FromFull(d.Keypoints[i][0], d.Keypoints[i][1])
	}
	return d
}

// faceToFull maps f, found in img, to the whole upright picture's pixels:
// detection, ROI and landmarks (z on x's scale, so scaled like it). The
// landmarks get a new slice; f's old one stays valid for img.
func faceToFull(img *imagedecode.Image, f *engine.Face) {
	k := float32(1 / img.Scale.Factor())
	f.Detection = detectionToFull(img, f.Detection)
	f.ROI.CX, f.ROI.CY = img.ToFull(f.ROI.CX, f.ROI.CY)
	f.ROI.W, f.ROI.H = f.ROI.W*k, f.ROI.H*k
	lm := make([][3]float32, len(f.Landmarks))
	for i, v := range f.Landmarks {
		x, y := img.ToFull(v[0], v[1])
		lm[i] = [3]float32{x, y, v[2] * k}
	}
	f.Landmarks = lm
}
