package geometry

import (
	"math"

	"github.com/facefleet/facefleet/models/facemesh"
)

// Mesh is a triangle mesh with per-vertex normals and texture coordinates.
type Mesh struct {
	// Positions are vertex positions (MetricMesh: cm, canonical model frame).
	Positions [][3]float32
	// Normals are unit vertex normals, one per position.
	Normals [][3]float32
	// UV are texture coordinates, v = 0 at the top of the texture image.
	UV [][2]float32
	// Triangles index Positions, counter-clockwise seen from outside.
	Triangles [][3]uint16
}

// MetricMesh un-projects the observed landmarks with the pose into the
// canonical model frame: the face's own shape in centimetres (x right, y up,
// z towards the viewer), with the canonical UVs and triangles and
// area-weighted vertex normals. It returns nil when the inputs could not have
// come from a successful FitPose (too few landmarks, no mesh, non-positive or
// non-finite scale).
func MetricMesh(landmarks [][3]float32, imgW, imgH int, pose Pose, mesh *facemesh.Mesh) *Mesh {
	if mesh == nil {
		return nil
	}
	n := len(mesh.Vertices)
	if len(landmarks) < n || !(pose.Scale > 0) || math.IsInf(pose.Scale, 0) {
		return nil
	}
	rt := mat3(pose.Rotation).transpose()
	cx, cy := float64(imgW)/2, float64(imgH)/2
	inv := 1 / pose.Scale
	pos := make([][3]float32, n)
	for i, l := range landmarks[:n] {
		p := [3]float64{
			(float64(l[0])-cx)*inv - pose.Translation[0],
			(float64(l[1])-cy)*inv - pose.Translation[1],
			float64(l[2])*inv - pose.Translation[2],
		}
		q := rt.apply(p)
		pos[i] = [3]float32{float32(q[0]), float32(q[1]), float32(q[2])}
	}
	m := &Mesh{
		Positions: pos,
		UV:        append([][2]float32(nil), mesh.UV...),
		Triangles: append([][3]uint16(nil), mesh.Triangles...),
	}
	m.Normals = vertexNormals(pos, m.Triangles, [3]float32{0, 0, 1})
	return m
}

// vertexNormals returns area-weighted unit vertex normals: the sum of the
// (unnormalised) cross products of the triangles around each vertex,
// normalised. Vertices with no usable triangle get fallback. Triangles with
// an index out of range are skipped.
func vertexNormals(pos [][3]float32, tris [][3]uint16, fallback [3]float32) [][3]float32 {
	acc := make([][3]float64, len(pos))
	for _, t := range tris {
		if int(t[0]) >= len(pos) || int(t[1]) >= len(pos) || int(t[2]) >= len(pos) {
			continue
		}
		a, b, c := pos[t[0]], pos[t[1]], pos[t[2]]
		e1 := [3]float64{float64(b[0] - a[0]), float64(b[1] - a[1]), float64(b[2] - a[2])}
		e2 := [3]float64{float64(c[0] - a[0]), float64(c[1] - a[1]), float64(c[2] - a[2])}
		nrm := cross3(e1, e2)
		if math.IsNaN(nrm[0]+nrm[1]+nrm[2]) || math.IsInf(nrm[0]+nrm[1]+nrm[2], 0) {
			continue
		}
		for _, k := range t {
			acc[k][0] += nrm[0]
			acc[k][1] += nrm[1]
			acc[k][2] += nrm[2]
		}
	}
	out := make([][3]float32, len(pos))
	for i, v := range acc {
		l := norm3(v)
		if !(l > 0) || math.IsInf(l, 0) {
			out[i] = fallback
			continue
		}
		out[i] = [3]float32{float32(v[0] / l), float32(v[1] / l), float32(v[2] / l)}
	}
	return out
}
