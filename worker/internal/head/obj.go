package head

import (
	"bufio"
	"fmt"
	"io"
)

// WriteOBJ writes the posed head (identity and fitted expression applied) as
// Wavefront OBJ in centimetres, ICT's frame, one usemtl group per ICT
// material, UVs in the head texture's atlas (OBJ convention, v up). mtlName
// is the MTL file the OBJ references.
func (h *Head) WriteOBJ(w io.Writer, mtlName string) error {
	tp := loadTopology()
	bw := bufio.NewWriterSize(w, 1<<20)
	fmt.Fprintf(bw, "# facefleet head: ICT-FaceKit (MIT) fitted to a photo\nmtllib %s\n", mtlName)
	for _, v := range h.Posed {
		fmt.Fprintf(bw, "v %.4f %.4f %.4f\n", v[0], v[1], v[2])
	}
	for _, t := range tp.uv {
		fmt.Fprintf(bw, "vt %.6f %.6f\n", t[0], 1-t[1])
	}
	for g, name := range tp.m.Materials {
		if len(tp.groups[g]) == 0 {
			continue
		}
		fmt.Fprintf(bw, "g %s\n", name)
		// The eyeballs' iris and pupil (vertex colours in the glTF) are
		// sub-materials here: OBJ has no vertex colours.
		for _, class := range []uint8{eyeNone, eyeIris, eyePupil} {
			first := true
			for _, t := range tp.groups[g] {
				if triangleEyeClass(tp, t) != class {
					continue
				}
				if first {
					fmt.Fprintf(bw, "usemtl %s\n", objMaterial(name, class))
					first = false
				}
				fmt.Fprintf(bw, "f %d/%d %d/%d %d/%d\n", tp.src[t[0]]+1, t[0]+1, tp.src[t[1]]+1, t[1]+1, tp.src[t[2]]+1, t[2]+1)
			}
		}
	}
	return bw.Flush()
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
