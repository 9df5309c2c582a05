package ict

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrMalformed is returned for ICT-FaceKit sources or a pack that cannot be
// parsed or is inconsistent.
var ErrMalformed = errors.New("ict: malformed ICT-FaceKit data")

// Source is the ICT-FaceKit light model as read from its distribution
// (generic_neutral_mesh.obj, shapes/*.obj, vertex_indices.json), in full
// float precision, before quantisation into a pack.
type Source struct {
	Neutral   [][3]float32
	UV        [][2]float32 // OBJ vt (v up)
	Tris      []Triangle
	Materials []string
	Identity  [][][3]float32 // positions of identity000…identity099
	ExprNames []string
	Expr      [][][3]float32 // positions of each expression shape
	Landmarks []int          // idx_to_landmark_verts (68)
	Rigid     []int          // idx_to_rigid_landmark_idx (9)
}

// NumIdentity is the number of identity modes of ICT-FaceKit light.
const NumIdentity = 100

// ReadSource reads the ICT-FaceKit directory dir (the layout of
// ../shared/models/ict-facekit).
func ReadSource(dir string) (*Source, error) {
	s := &Source{}
	f, err := os.Open(filepath.Join(dir, "generic_neutral_mesh.obj"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := s.parseNeutral(f); err != nil {
		return nil, err
	}
	var vi struct {
		Expressions []string `json:"expressions"`
		Landmarks   []int    `json:"idx_to_landmark_verts"`
		Rigid       []int    `json:"idx_to_rigid_landmark_idx"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "vertex_indices.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &vi); err != nil {
		return nil, fmt.Errorf("%w: vertex_indices.json: %v", ErrMalformed, err)
	}
	if len(vi.Landmarks) != 68 || len(vi.Expressions) == 0 {
		return nil, fmt.Errorf("%w: vertex_indices.json has %d landmarks, %d expressions", ErrMalformed, len(vi.Landmarks), len(vi.Expressions))
	}
	for _, l := range vi.Landmarks {
		if l < 0 || l >= len(s.Neutral) {
			return nil, fmt.Errorf("%w: landmark vertex %d out of range", ErrMalformed, l)
		}
	}
	s.Landmarks, s.Rigid, s.ExprNames = vi.Landmarks, vi.Rigid, vi.Expressions
	for i := range NumIdentity {
		p, err := readPositions(filepath.Join(dir, "shapes", fmt.Sprintf("identity%03d.obj", i)), len(s.Neutral))
		if err != nil {
			return nil, err
		}
		s.Identity = append(s.Identity, p)
	}
	for _, name := range s.ExprNames {
		p, err := readPositions(filepath.Join(dir, "shapes", name+".obj"), len(s.Neutral))
		if err != nil {
			return nil, err
		}
		s.Expr = append(s.Expr, p)
	}
	return s, nil
}

func parseVec(fields []string, n int) ([3]float32, error) {
	var v [3]float32
	if len(fields) < n {
		return v, fmt.Errorf("%w: %d values, want %d", ErrMalformed, len(fields), n)
	}
	for k := range n {
		x, err := strconv.ParseFloat(fields[k], 32)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return v, fmt.Errorf("%w: bad number %q", ErrMalformed, fields[k])
		}
		v[k] = float32(x)
	}
	return v, nil
}

func (s *Source) parseNeutral(r io.Reader) error {
	mat := -1
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "v":
			v, err := parseVec(fields[1:], 3)
			if err != nil {
				return err
			}
			s.Neutral = append(s.Neutral, v)
		case "vt":
			v, err := parseVec(fields[1:], 2)
			if err != nil {
				return err
			}
			s.UV = append(s.UV, [2]float32{v[0], v[1]})
		case "usemtl":
			if len(fields) != 2 {
				return fmt.Errorf("%w: usemtl %q", ErrMalformed, sc.Text())
			}
			mat = -1
			for i, m := range s.Materials {
				if m == fields[1] {
					mat = i
				}
			}
			if mat < 0 {
				s.Materials = append(s.Materials, fields[1])
				mat = len(s.Materials) - 1
			}
		case "f":
			if mat < 0 {
				return fmt.Errorf("%w: face before usemtl", ErrMalformed)
			}
			if len(fields) < 4 {
				return fmt.Errorf("%w: face %q", ErrMalformed, sc.Text())
			}
			vs := make([][2]int, 0, len(fields)-1)
			for _, c := range fields[1:] {
				parts := strings.Split(c, "/")
				if len(parts) < 2 {
					return fmt.Errorf("%w: face corner %q has no UV", ErrMalformed, c)
				}
				a, err1 := strconv.Atoi(parts[0])
				b, err2 := strconv.Atoi(parts[1])
				if err1 != nil || err2 != nil || a < 1 || b < 1 {
					return fmt.Errorf("%w: face corner %q", ErrMalformed, c)
				}
				vs = append(vs, [2]int{a - 1, b - 1})
			}
			// Fan triangulation (ICT's polygons are convex quads and a few n-gons).
			for k := 1; k+1 < len(vs); k++ {
				s.Tris = append(s.Tris, Triangle{
					V:        [3]int32{int32(vs[0][0]), int32(vs[k][0]), int32(vs[k+1][0])},
					T:        [3]int32{int32(vs[0][1]), int32(vs[k][1]), int32(vs[k+1][1])},
					Material: uint8(mat),
				})
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	for _, t := range s.Tris {
		for k := range 3 {
			if int(t.V[k]) >= len(s.Neutral) || int(t.T[k]) >= len(s.UV) {
				return fmt.Errorf("%w: face index out of range", ErrMalformed)
			}
		}
	}
	if len(s.Neutral) == 0 || len(s.Tris) == 0 {
		return fmt.Errorf("%w: empty neutral mesh", ErrMalformed)
	}
	return nil
}

func readPositions(path string, n int) ([][3]float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := make([][3]float32, 0, n)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || fields[0] != "v" {
			continue
		}
		v, err := parseVec(fields[1:], 3)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) != n {
		return nil, fmt.Errorf("%w: %s has %d vertices, want %d", ErrMalformed, path, len(out), n)
	}
	return out, nil
}
