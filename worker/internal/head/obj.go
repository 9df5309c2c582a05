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
		fmt.Fprintf(bw, "g %s\nusemtl %s\n", name, name)
		for _, t := range tp.groups[g] {
			fmt.Fprintf(bw, "f %d/%d %d/%d %d/%d\n", tp.src[t[0]]+1, t[0]+1, tp.src[t[1]]+1, t[1]+1, tp.src[t[2]]+1, t[2]+1)
		}
	}
	return bw.Flush()
}

// WriteMTL writes the materials of WriteOBJ: the skin groups map texture
// (the head texture file), the others a flat colour (d = opacity).
func WriteMTL(w io.Writer, texture string) error {
	tp := loadTopology()
	bw := bufio.NewWriter(w)
	for g, name := range tp.m.Materials {
		fmt.Fprintf(bw, "newmtl %s\n", name)
		if tp.textured[g] {
			fmt.Fprintf(bw, "Kd 1 1 1\nKa 0 0 0\nKs 0.05 0.05 0.05\nmap_Kd %s\n\n", texture)
			continue
		}
		l := looks[name]
		fmt.Fprintf(bw, "Kd %.2f %.2f %.2f\nKa 0 0 0\nKs 0.1 0.1 0.1\nd %.2f\n\n", l.rgba[0], l.rgba[1], l.rgba[2], l.rgba[3])
	}
	return bw.Flush()
}
