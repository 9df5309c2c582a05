package pipeline

import (
	"context"
	"fmt"
	"image"
	"math"
	"slices"
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
//     the region transformed and upsampled) for the detector (a region in
//     its whole frame: see decode), landmarks and texture to run on;
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
	// from the centre) and the detector's context, which reaches far: on a
	// textured background the framed test photo's landmarks came out
	// 0.33 % of the inter-ocular distance from a whole decode's at 1.3 box
	// sides, 0.17 % at 2, 0.004 % at 3 (the region's surround is the 1/8
	// pre-pass picture).
	regionHalf = 2.0
	// cutMargin (full-size pixels) is added beyond that: two 16-pixel MCUs,
	// as near a cut chroma upsampling differs from the whole decode's.
	cutMargin = 32
	// maxRegionShare: a region covering more of the picture is not cut out
	// (it would save little).
	maxRegionShare = 0.75
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
	// detect is the time the pre-pass spent detecting.
	detect time.Duration
	// frame, for a region, is the whole picture in img's pixels and pre
	// the pre-pass's picture of it: the detector letterboxes that frame,
	// img's pixels in their place and pre's around them, so it sees what a
	// whole decode shows it (engine.DetectOptions.Frame, Background).
	frame image.Rectangle
	pre   *imagedecode.Image
}

// detectOptions are the detect stage's options for d.img. A region's
// detection is not capped at o.MaxFaces: faces the frame shows outside the
// region, which detected drops, must not take the places of the region's
// own (detected applies the cap).
func (d *decoded) detectOptions(o Options) engine.DetectOptions {
	do := engine.DetectOptions{Detector: o.Detector, MaxFaces: o.MaxFaces}
	if d.pre != nil {
		do.Frame, do.Background, do.MaxFaces = d.frame, d.pre.NRGBA, 0
	}
	return do
}

// detected keeps the faces whose box centre lies in d.img (for a region,
// the frame around it can show a face that is not in it), the first
// maxFaces of them (dets are best first), and hands the pre-pass picture
// back.
func (d *decoded) detected(dets []engine.Detection, maxFaces int) []engine.Detection {
	if d.pre == nil {
		return dets
	}
	d.pre.Release()
	d.pre = nil
	w, h := float32(d.img.Rect.Dx()), float32(d.img.Rect.Dy())
	dets = slices.DeleteFunc(dets, func(f engine.Detection) bool {
		cx, cy := f.Box[0]+f.Box[2]/2, f.Box[1]+f.Box[3]/2
		return cx < 0 || cy < 0 || cx >= w || cy >= h
	})
	if maxFaces > 0 && len(dets) > maxFaces {
		dets = dets[:maxFaces]
	}
	return dets
}

// decode is the decode stage: the image the other stages work on, whole or
// reduced as above. A region is detected in the whole frame (decoded):
// detected in the cut-out region alone, where a face fills more of the
// detector's input, the framed test photo's face was boxed differently and
// its landmarks moved 1.6 % of the inter-ocular distance (on a flat
// background; 0.36 % taking the pre-pass's boxes instead); in the frame
// over the pre-pass picture 0.001 % on a flat background, 0.17 % on a
// textured one (see regionHalf).
func (p *Pipeline) decode(ctx context.Context, data []byte, o Options) (decoded, error) {
	pl, err := p.plan(ctx, data, o)
	if err != nil || pl.img != nil {
		return decoded{img: pl.img, detect: pl.detect}, err
	}
	img, err := imagedecode.DecodeRequest(data, p.lim, pl.req)
	d := decoded{img: img, detect: pl.detect}
	if err != nil || pl.req.Region.Empty() {
		pl.pre.Release()
		return d, err
	}
	x0, y0 := img.FromFull(0, 0)
	x1, y1 := img.FromFull(float32(img.Full.X), float32(img.Full.Y))
	d.frame = image.Rect(int(math.Floor(float64(x0))), int(math.Floor(float64(y0))), int(math.Ceil(float64(x1))), int(math.Ceil(float64(y1))))
	d.pre = pl.pre
	return d, nil
}

// decodePlan is what plan decided.
type decodePlan struct {
	req    imagedecode.Request // the zero Request: whole
	detect time.Duration       // the pre-pass's detection time
	// pre is the pre-pass picture (nil when plan decoded none), which the
	// caller releases.
	pre *imagedecode.Image
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
	t := time.Now()
	dets, err := p.model.Detect(ctx, pre.NRGBA, engine.DetectOptions{Detector: o.Detector, MaxFaces: o.MaxFaces})
	whole.detect = time.Since(t)
	if err != nil || len(dets) == 0 {
		pre.Release()
		if err != nil {
			err = fmt.Errorf("pipeline: detect (pre-pass at %d/%d): %w", preScale.Num, preScale.Denom, err)
		}
		return whole, err
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
	return decodePlan{req: req, detect: whole.detect, pre: pre}, nil
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
