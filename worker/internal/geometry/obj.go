package geometry

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// MaterialName is the material that WriteOBJ uses and WriteMTL defines.
const MaterialName = "face"

// WriteOBJ writes m as Wavefront OBJ: an mtllib line naming mtlFile (omitted
// when empty), then v, vt, vn and 1-based v/vt/vn faces using MaterialName.
// OBJ texture coordinates have their origin at the bottom left, so vt is
// written as (u, 1−v).
func WriteOBJ(w io.Writer, m *Mesh, mtlFile string) error {
	if err := checkMesh(m); err != nil {
		return err
	}
	if strings.ContainsAny(mtlFile, "\r\n") {
		return fmt.Errorf("%w: material file name %q", ErrInvalidInput, mtlFile)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	buf := make([]byte, 0, 128)
	buf = append(buf, "# facefleet face mesh (cm, y up, z towards the viewer)\n"...)
	if mtlFile != "" {
		buf = append(buf, "mtllib "...)
		buf = append(buf, mtlFile...)
		buf = append(buf, '\n')
	}
	buf = append(buf, "o face\n"...)
	bw.Write(buf)
	for _, p := range m.Positions {
		buf = append(buf[:0], 'v')
		buf = appendFloats(buf, p[:])
		bw.Write(buf)
	}
	for _, t := range m.UV {
		buf = append(buf[:0], "vt"...)
		buf = appendFloats(buf, []float32{t[0], 1 - t[1]})
		bw.Write(buf)
	}
	for _, nrm := range m.Normals {
		buf = append(buf[:0], "vn"...)
		buf = appendFloats(buf, nrm[:])
		bw.Write(buf)
	}
	buf = append(buf[:0], "usemtl "+MaterialName+"\ns off\n"...)
	bw.Write(buf)
	var num [8]byte
	for _, t := range m.Triangles {
		buf = append(buf[:0], 'f')
		for _, k := range t {
			i := strconv.AppendUint(num[:0], uint64(k)+1, 10)
			buf = append(buf, ' ')
			buf = append(buf, i...)
			buf = append(buf, '/')
			buf = append(buf, i...)
			buf = append(buf, '/')
			buf = append(buf, i...)
		}
		buf = append(buf, '\n')
		bw.Write(buf)
	}
	return bw.Flush()
}

func appendFloats(buf []byte, fs []float32) []byte {
	for _, f := range fs {
		buf = append(buf, ' ')
		buf = strconv.AppendFloat(buf, float64(f), 'g', -1, 32)
	}
	return append(buf, '\n')
}

// WriteMTL writes the material library for WriteOBJ: one material,
// MaterialName, whose diffuse map (map_Kd) is textureFile.
func WriteMTL(w io.Writer, textureFile string) error {
	if textureFile == "" || strings.ContainsAny(textureFile, "\r\n") {
		return fmt.Errorf("%w: texture file name %q", ErrInvalidInput, textureFile)
	}
	_, err := fmt.Fprintf(w, "# facefleet\nnewmtl %s\nKa 1 1 1\nKd 1 1 1\nKs 0 0 0\nd 1\nillum 1\nmap_Kd %s\n", MaterialName, textureFile)
	return err
}

// checkMesh verifies that m's per-vertex arrays agree and its indices are in
// range.
func checkMesh(m *Mesh) error {
	if m == nil || len(m.Positions) == 0 {
		return fmt.Errorf("%w: empty mesh", ErrInvalidInput)
	}
	n := len(m.Positions)
	if len(m.Normals) != n || len(m.UV) != n {
		return fmt.Errorf("%w: %d positions, %d normals, %d uvs", ErrInvalidInput, n, len(m.Normals), len(m.UV))
	}
	if n > 1<<16 {
		return fmt.Errorf("%w: %d vertices exceed 16-bit indices", ErrInvalidInput, n)
	}
	for i := range n {
		p, nr, uv := m.Positions[i], m.Normals[i], m.UV[i]
		for _, c := range [...]float32{p[0], p[1], p[2], nr[0], nr[1], nr[2], uv[0], uv[1]} {
			if math.IsNaN(float64(c)) || math.IsInf(float64(c), 0) {
				return fmt.Errorf("%w: vertex %d has a non-finite attribute", ErrInvalidInput, i)
			}
		}
	}
	for i, t := range m.Triangles {
		for _, k := range t {
			if int(k) >= n {
				return fmt.Errorf("%w: triangle %d index %d out of range", ErrInvalidInput, i, k)
			}
		}
	}
	return nil
}
