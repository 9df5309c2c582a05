package geometry

import (
	"math"
	"testing"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/models/facemesh"
)

// synthFace describes synthetic landmarks: the canonical mesh turned by
// physical head motions, then projected orthographically into an image.
type synthFace struct {
	pitch, yaw, roll float64    // degrees, the package's sign conventions
	scale            float64    // px per cm
	t                [3]float64 // translation, camera frame, cm
	w, h             int        // image size
}

// landmarks builds the synthetic landmarks independently of the package's
// pose code, in the canonical frame (x right, y up, z towards the viewer):
//   - yaw: rotation about +y by +yaw moves the nose (+z) towards +x, the
//     image's right side;
//   - pitch: rotation about +x by −pitch moves the nose towards +y, up;
//   - roll: rotation about +z (towards the viewer) by −roll is clockwise as
//     the viewer sees it;
//
// applied roll first, then pitch, then yaw (the documented intrinsic
// yaw–pitch–roll order), then projected with x right, y down and
// smaller z = nearer.
func (s synthFace) landmarks(mesh *facemesh.Mesh) [][3]float32 {
	const rad = math.Pi / 180
	out := make([][3]float32, len(mesh.Vertices))
	for i, v := range mesh.Vertices {
		p := [3]float64{float64(v[0]), float64(v[1]), float64(v[2])}
		p = rotateAbout(p, 2, -s.roll*rad)
		p = rotateAbout(p, 0, -s.pitch*rad)
		p = rotateAbout(p, 1, s.yaw*rad)
		out[i] = [3]float32{
			float32(s.scale*(p[0]+s.t[0]) + float64(s.w)/2),
			float32(s.scale*(-p[1]+s.t[1]) + float64(s.h)/2),
			float32(s.scale * (-p[2] + s.t[2])),
		}
	}
	return out
}

// rotateAbout rotates p right-handedly by rad about axis 0 (x), 1 (y) or 2 (z).
func rotateAbout(p [3]float64, axis int, rad float64) [3]float64 {
	c, s := math.Cos(rad), math.Sin(rad)
	i, j := (axis+1)%3, (axis+2)%3
	q := p
	q[i] = c*p[i] - s*p[j]
	q[j] = s*p[i] + c*p[j]
	return q
}

func canonical(t testing.TB) *facemesh.Mesh {
	t.Helper()
	return models.Canonical()
}

// frontal is an upright frontal face filling most of a 512×512 image.
func frontal() synthFace { return synthFace{scale: 20, w: 512, h: 512} }
