package geometry

import (
	"fmt"
	"math"

	"github.com/facefleet/facefleet/models/facemesh"
)

// Pose is the weak-perspective head pose of one face: the similarity that
// maps canonical-model centimetres onto the landmarks (see the package
// documentation for the frames and the angle conventions).
type Pose struct {
	// Rotation maps canonical-model vectors into the camera frame
	// (x right, y down, z forward); row-major.
	Rotation [3][3]float64 `json:"rotation"`
	// Translation is the model origin in the camera frame, in cm, relative to
	// the image centre (x, y) and to the landmarks' depth origin (z).
	Translation [3]float64 `json:"translation"`
	// Scale is the weak-perspective scale in pixels per centimetre.
	Scale float64 `json:"scale"`
	// Pitch, Yaw and Roll are degrees; 0/0/0 is an upright face looking into
	// the camera. Pitch > 0: looking up. Yaw > 0: turned towards the image's
	// right side. Roll > 0: head tilted clockwise in the image.
	Pitch float64 `json:"pitch"`
	Yaw   float64 `json:"yaw"`
	Roll  float64 `json:"roll"`
}

// flipYZ maps the canonical model axes (y up, z towards the viewer) onto the
// camera axes (y down, z forward). It is a proper rotation (180° about x).
func flipYZ() mat3 { return mat3{{1, 0, 0}, {0, -1, 0}, {0, 0, -1}} }

// Project maps a canonical-model point (cm) to landmark space (pixels,
// x right, y down, z forward) with the pose: Scale·(Rotation·v +
// Translation) + (imgW/2, imgH/2, 0).
func (p Pose) Project(v [3]float64, imgW, imgH int) [3]float64 {
	r := mat3(p.Rotation).apply(v)
	return [3]float64{
		p.Scale*(r[0]+p.Translation[0]) + float64(imgW)/2,
		p.Scale*(r[1]+p.Translation[1]) + float64(imgH)/2,
		p.Scale * (r[2] + p.Translation[2]),
	}
}

// FitPose fits a Pose to the landmarks of one face by weighted orthogonal
// Procrustes with scale (Umeyama) between the canonical vertices and the
// landmarks, with the mesh's Procrustes weights (uniform weights when the
// mesh has none). landmarks must hold at least len(mesh.Vertices) points;
// extra points (iris refinement) are ignored.
//
// Errors wrap ErrInvalidInput (counts, non-finite values, image size) or
// ErrDegenerate (points collapsed to a point or a line).
func FitPose(landmarks [][3]float32, imgW, imgH int, mesh *facemesh.Mesh) (Pose, error) {
	if mesh == nil || len(mesh.Vertices) == 0 {
		return Pose{}, fmt.Errorf("%w: no canonical mesh", ErrInvalidInput)
	}
	n := len(mesh.Vertices)
	if imgW <= 0 || imgH <= 0 {
		return Pose{}, fmt.Errorf("%w: image size %dx%d", ErrInvalidInput, imgW, imgH)
	}
	if len(landmarks) < n {
		return Pose{}, fmt.Errorf("%w: %d landmarks, want %d", ErrInvalidInput, len(landmarks), n)
	}
	for i, l := range landmarks[:n] {
		for _, c := range l {
			if math.IsNaN(float64(c)) || math.IsInf(float64(c), 0) {
				return Pose{}, fmt.Errorf("%w: landmark %d is not finite", ErrInvalidInput, i)
			}
		}
	}
	weights, err := procrustesWeights(mesh)
	if err != nil {
		return Pose{}, err
	}

	// Weighted centroids (a: model, b: landmarks).
	var wsum float64
	var ma, mb [3]float64
	for i, w := range weights {
		if w == 0 {
			continue
		}
		wsum += w
		for k := range 3 {
			ma[k] += w * float64(mesh.Vertices[i][k])
			mb[k] += w * float64(landmarks[i][k])
		}
	}
	ma, mb = scale3(ma, 1/wsum), scale3(mb, 1/wsum)

	// Cross-covariance H = Σ w (b−μb)(a−μa)ᵀ and the model's spread.
	var h mat3
	var varA float64
	for i, w := range weights {
		if w == 0 {
			continue
		}
		var a, b [3]float64
		for k := range 3 {
			a[k] = float64(mesh.Vertices[i][k]) - ma[k]
			b[k] = float64(landmarks[i][k]) - mb[k]
		}
		varA += w * dot3(a, a)
		for r := range 3 {
			for c := range 3 {
				h[r][c] += w * b[r] * a[c]
			}
		}
	}
	if !(varA > 0) {
		return Pose{}, fmt.Errorf("%w: canonical points coincide", ErrDegenerate)
	}
	u, s, v, rank := svd3(h)
	if rank < 2 {
		return Pose{}, fmt.Errorf("%w: landmarks span rank %d", ErrDegenerate, rank)
	}
	d := 1.0
	if u.det()*v.det() < 0 {
		d = -1
	}
	rot := u.mul(mat3{{1, 0, 0}, {0, 1, 0}, {0, 0, d}}).mul(v.transpose())
	scale := (s[0] + s[1] + d*s[2]) / varA
	if !(scale > 0) || math.IsInf(scale, 0) {
		return Pose{}, fmt.Errorf("%w: scale %g", ErrDegenerate, scale)
	}
	t := sub3(mb, scale3(rot.apply(ma), scale))
	p := Pose{
		Rotation: rot,
		Translation: [3]float64{
			(t[0] - float64(imgW)/2) / scale,
			(t[1] - float64(imgH)/2) / scale,
			t[2] / scale,
		},
		Scale: scale,
	}
	p.Pitch, p.Yaw, p.Roll = eulerAngles(rot)
	return p, nil
}

// PoseFromSimilarity builds the Pose of the model→landmark similarity
// landmark = scale·rot·v + tPix (tPix in landmark pixels, as a fit solves
// it), filling Translation relative to the image centre and the angles, so
// every fitter reports poses in this package's conventions.
func PoseFromSimilarity(rot [3][3]float64, tPix [3]float64, scale float64, imgW, imgH int) Pose {
	p := Pose{
		Rotation: rot,
		Translation: [3]float64{
			(tPix[0] - float64(imgW)/2) / scale,
			(tPix[1] - float64(imgH)/2) / scale,
			tPix[2] / scale,
		},
		Scale: scale,
	}
	p.Pitch, p.Yaw, p.Roll = eulerAngles(mat3(rot))
	return p
}

// procrustesWeights returns the mesh's Procrustes weights as float64, or
// uniform weights when they are missing or all zero.
func procrustesWeights(mesh *facemesh.Mesh) ([]float64, error) {
	n := len(mesh.Vertices)
	w := make([]float64, n)
	var sum float64
	if len(mesh.Weights) == n {
		for i, x := range mesh.Weights {
			if !(x >= 0) || math.IsInf(float64(x), 0) {
				return nil, fmt.Errorf("%w: Procrustes weight %d is %g", ErrInvalidInput, i, x)
			}
			w[i] = float64(x)
			sum += w[i]
		}
	}
	if sum == 0 {
		for i := range w {
			w[i] = 1
		}
	}
	return w, nil
}

// eulerAngles decomposes a model→camera rotation into pitch, yaw and roll in
// degrees, with C = rot·flipYZ = Ry(−yaw)·Rx(−pitch)·Rz(roll).
func eulerAngles(rot mat3) (pitch, yaw, roll float64) {
	c := rot.mul(flipYZ())
	sb := math.Max(-1, math.Min(1, -c[1][2]))
	b := math.Asin(sb)
	var a, r float64
	if math.Abs(sb) < 1-1e-12 {
		a = math.Atan2(c[0][2], c[2][2])
		r = math.Atan2(c[1][0], c[1][1])
	} else { // gimbal lock: pitch ±90°, put everything into yaw
		a = math.Atan2(-c[2][0], c[0][0])
	}
	const deg = 180 / math.Pi
	return -b * deg, -a * deg, r * deg
}

// rotationFromAngles is the inverse of eulerAngles: the model→camera rotation
// for pitch, yaw and roll in degrees.
func rotationFromAngles(pitch, yaw, roll float64) mat3 {
	const rad = math.Pi / 180
	return rotY(-yaw * rad).mul(rotX(-pitch * rad)).mul(rotZ(roll * rad)).mul(flipYZ())
}
