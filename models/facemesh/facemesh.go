// Package facemesh holds MediaPipe's canonical face mesh: 468 vertices in
// centimetres (x right, y up, z towards the viewer), their UV coordinates in
// the canonical texture layout, 898 triangles, the Procrustes landmark
// weights used for pose fitting, and the left/right mirror index of every
// vertex.
//
// The mesh is parsed once from geometry_pipeline_metadata_landmarks.pbtxt by
// models/cmd/meshpack into canonical_face_mesh.json, which the models package
// embeds; Canonical returns it.
package facemesh

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// NumVertices and NumTriangles are the sizes of the canonical mesh.
const (
	NumVertices  = 468
	NumTriangles = 898
)

// Mesh is the canonical face model.
type Mesh struct {
	// Vertices are the canonical 3D positions (centimetres, y up, z towards the camera).
	Vertices [][3]float32 `json:"vertices"`
	// UV are texture coordinates in [0,1], v = 0 at the top of the texture image.
	UV [][2]float32 `json:"uv"`
	// Triangles index Vertices; counter-clockwise when seen from the front.
	Triangles [][3]uint16 `json:"triangles"`
	// Weights are the Procrustes weights per vertex (0 for vertices outside the basis).
	Weights []float32 `json:"weights"`
	// Mirror maps each vertex to its left/right counterpart (itself on the midline).
	Mirror []int `json:"mirror"`
}

// ErrMalformed is returned for a mesh source that cannot be parsed or is inconsistent.
var ErrMalformed = errors.New("facemesh: malformed canonical mesh")

// ParsePBTXT parses MediaPipe's geometry pipeline metadata (text protobuf).
func ParsePBTXT(r io.Reader) (*Mesh, error) {
	var vb []float32
	var ib []uint16
	weights := make([]float32, NumVertices)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "vertex_buffer:"):
			v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, "vertex_buffer:")), 32)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
			}
			vb = append(vb, float32(v))
		case strings.HasPrefix(line, "index_buffer:"):
			v, err := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(line, "index_buffer:")), 10, 16)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
			}
			ib = append(ib, uint16(v))
		case strings.HasPrefix(line, "procrustes_landmark_basis"):
			var id int
			var w float64
			if _, err := fmt.Sscanf(line, "procrustes_landmark_basis { landmark_id: %d weight: %g }", &id, &w); err != nil {
				return nil, fmt.Errorf("%w: %q: %v", ErrMalformed, line, err)
			}
			if id < 0 || id >= NumVertices {
				return nil, fmt.Errorf("%w: landmark id %d out of range", ErrMalformed, id)
			}
			weights[id] = float32(w)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(vb) != NumVertices*5 {
		return nil, fmt.Errorf("%w: %d vertex values, want %d", ErrMalformed, len(vb), NumVertices*5)
	}
	if len(ib) != NumTriangles*3 {
		return nil, fmt.Errorf("%w: %d indices, want %d", ErrMalformed, len(ib), NumTriangles*3)
	}
	m := &Mesh{
		Vertices:  make([][3]float32, NumVertices),
		UV:        make([][2]float32, NumVertices),
		Triangles: make([][3]uint16, NumTriangles),
		Weights:   weights,
	}
	for i := range NumVertices {
		m.Vertices[i] = [3]float32{vb[i*5], vb[i*5+1], vb[i*5+2]}
		m.UV[i] = [2]float32{vb[i*5+3], vb[i*5+4]}
	}
	for i := range NumTriangles {
		m.Triangles[i] = [3]uint16{ib[i*3], ib[i*3+1], ib[i*3+2]}
	}
	m.Mirror = mirrorIndex(m.Vertices)
	return m, m.Validate()
}

// mirrorIndex pairs each vertex with the vertex nearest to its reflection
// through the x = 0 plane.
func mirrorIndex(v [][3]float32) []int {
	out := make([]int, len(v))
	for i, p := range v {
		best, bestD := i, math.Inf(1)
		for j, q := range v {
			dx, dy, dz := float64(-p[0]-q[0]), float64(p[1]-q[1]), float64(p[2]-q[2])
			if d := dx*dx + dy*dy + dz*dz; d < bestD {
				best, bestD = j, d
			}
		}
		out[i] = best
	}
	return out
}

// Validate checks sizes, index ranges and that the mirror map is an involution.
func (m *Mesh) Validate() error {
	var errs []error
	if len(m.Vertices) != NumVertices || len(m.UV) != NumVertices || len(m.Weights) != NumVertices || len(m.Mirror) != NumVertices {
		errs = append(errs, fmt.Errorf("%w: per-vertex arrays must have %d entries", ErrMalformed, NumVertices))
	}
	if len(m.Triangles) != NumTriangles {
		errs = append(errs, fmt.Errorf("%w: %d triangles, want %d", ErrMalformed, len(m.Triangles), NumTriangles))
	}
	for i, t := range m.Triangles {
		for _, k := range t {
			if int(k) >= NumVertices {
				errs = append(errs, fmt.Errorf("%w: triangle %d index %d out of range", ErrMalformed, i, k))
			}
		}
	}
	for i, j := range m.Mirror {
		if j < 0 || j >= len(m.Mirror) || m.Mirror[j] != i {
			errs = append(errs, fmt.Errorf("%w: mirror map not an involution at %d", ErrMalformed, i))
			break
		}
	}
	return errors.Join(errs...)
}

// Decode reads a mesh in the compact JSON form written by Encode.
func Decode(data []byte) (*Mesh, error) {
	var m Mesh
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return &m, m.Validate()
}

// Encode writes the compact JSON form.
func (m *Mesh) Encode(w io.Writer) error {
	return json.NewEncoder(w).Encode(m)
}
