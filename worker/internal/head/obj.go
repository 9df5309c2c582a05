package head

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"sync"
)

// objTail is what follows the vertices in head.obj, which does not depend
// on the fit: the UVs and the faces by material group (built once per
// process, shared read-only).
var objTail = sync.OnceValue(func() []byte {
	tp := loadTopology()
	var b []byte
	for _, t := range tp.uv {
		b = append(b, "vt "...)
		b = strconv.AppendFloat(b, float64(t[0]), 'f', 6, 32)
		b = append(b, ' ')
		b = strconv.AppendFloat(b, float64(1-t[1]), 'f', 6, 32)
		b = append(b, '\n')
	}
	for g, name := range tp.m.Materials {
		if len(tp.groups[g]) == 0 {
			continue
		}
		b = append(b, "g "...)
		b = append(b, name...)
		b = append(b, '\n')
		// The eyeballs' iris and pupil (vertex colours in the glTF) are
		// sub-materials here: OBJ has no vertex colours.
		for _, class := range []uint8{eyeNone, eyeIris, eyePupil} {
			first := true
			for _, t := range tp.groups[g] {
				if triangleEyeClass(tp, t) != class {
					continue
				}
				if first {
					b = append(b, "usemtl "...)
					b = append(b, objMaterial(name, class)...)
					b = append(b, '\n')
					first = false
				}
				b = append(b, 'f')
				for _, k := range t {
					b = append(b, ' ')
					b = strconv.AppendInt(b, int64(tp.src[k])+1, 10)
					b = append(b, '/')
					b = strconv.AppendInt(b, int64(k)+1, 10)
				}
				b = append(b, '\n')
			}
		}
	}
	return b
})

// WriteOBJ writes the posed head (identity and fitted expression applied) as
// Wavefront OBJ in centimetres, ICT's frame, one usemtl group per ICT
// material, UVs in the head texture's atlas (OBJ convention, v up). mtlName
// is the MTL file the OBJ references.
func (h *Head) WriteOBJ(w io.Writer, mtlName string) error {
	b := make([]byte, 0, 32*len(h.Posed)+128)
	b = append(b, "# facefleet head: ICT-FaceKit (MIT) fitted to a photo\nmtllib "...)
	b = append(b, mtlName...)
	b = append(b, '\n')
	for _, v := range h.Posed {
		b = append(b, 'v')
		for k := range 3 {
			b = append(b, ' ')
			b = strconv.AppendFloat(b, float64(v[k]), 'f', 4, 32)
		}
		b = append(b, '\n')
	}
	tail := objTail()
	if bb, ok := w.(*bytes.Buffer); ok {
		bb.Grow(len(b) + len(tail)) // the file once, without the doubling of growth
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	_, err := w.Write(tail)
	return err
}

// WriteMTL writes the materials of WriteOBJ: the skin groups map texture
// (the head texture file), the others a flat colour (d = opacity); the
// eyeballs' white, iris (the colour BakeTexture sampled) and pupil.
func (h *Head) WriteMTL(w io.Writer, texture string) error {
	tp := loadTopology()
	bw := bufio.NewWriter(w)
	for g, name := range tp.m.Materials {
		if tp.textured[g] {
			fmt.Fprintf(bw, "newmtl %s\nKd 1 1 1\nKa 0 0 0\nKs 0.05 0.05 0.05\nmap_Kd %s\n\n", name, texture)
			continue
		}
		l := looks[name]
		classes := []uint8{eyeNone}
		if name == "M_IrisLeft" || name == "M_IrisRight" {
			classes = []uint8{eyeWhite, eyeIris, eyePupil}
		}
		for _, c := range classes {
			rgb := [3]float64{l.rgba[0], l.rgba[1], l.rgba[2]}
			if c != eyeNone {
				ec := h.eyeColour(c)
				rgb = [3]float64{float64(ec[0]) / 255, float64(ec[1]) / 255, float64(ec[2]) / 255}
			}
			fmt.Fprintf(bw, "newmtl %s\nKd %.2f %.2f %.2f\nKa 0 0 0\nKs 0.1 0.1 0.1\nd %.2f\n\n", objMaterial(name, c), rgb[0], rgb[1], rgb[2], l.rgba[3])
		}
	}
	return bw.Flush()
}

// triangleEyeClass is the eye class most of t's corners have (eyeNone, the
// eyeball's white, counts as eyeNone: the group's own material).
func triangleEyeClass(tp *topology, t [3]uint32) uint8 {
	var n [4]int
	for _, k := range t {
		c := tp.eye[k]
		if c == eyeWhite {
			c = eyeNone
		}
		n[c]++
	}
	best := uint8(eyeNone)
	for c := range n {
		if n[c] > n[best] {
			best = uint8(c)
		}
	}
	return best
}

// objMaterial names a group's OBJ material: the group's own, or its iris
// and pupil sub-materials.
func objMaterial(group string, class uint8) string {
	switch class {
	case eyeIris:
		return group + "_iris"
	case eyePupil:
		return group + "_pupil"
	}
	return group
}
