package geometry

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

// FuzzFitPose perturbs synthetic landmarks with arbitrary float32 values at
// arbitrary indices: FitPose must never panic, and any pose it returns must
// be a proper rotation with a finite positive scale and finite angles; the
// metric mesh and both writers must then succeed.
func FuzzFitPose(f *testing.F) {
	mesh := canonical(f)
	base := frontal().landmarks(mesh)
	f.Add([]byte{})
	f.Add(binary.LittleEndian.AppendUint32([]byte{0, 1, 0}, math.Float32bits(float32(math.NaN()))))
	f.Add(binary.LittleEndian.AppendUint32([]byte{4, 0, 2}, math.Float32bits(1e30)))
	f.Add(bytes.Repeat([]byte{0xff}, 64))
	f.Fuzz(func(t *testing.T, data []byte) {
		lm := append([][3]float32(nil), base...)
		collapse := len(data)%5 == 4
		// Each 7-byte record: uint16 index, uint8 axis, float32 value.
		for ; len(data) >= 7; data = data[7:] {
			i := int(binary.LittleEndian.Uint16(data)) % len(lm)
			lm[i][int(data[2])%3] = math.Float32frombits(binary.LittleEndian.Uint32(data[3:]))
		}
		if collapse {
			for i := range lm {
				lm[i] = lm[0]
			}
		}
		p, err := FitPose(lm, 512, 512, mesh)
		if err != nil {
			return
		}
		m := mat3(p.Rotation)
		if d := m.det(); math.Abs(d-1) > 1e-6 {
			t.Fatalf("det(R) = %g", d)
		}
		if !(p.Scale > 0) || math.IsInf(p.Scale, 0) {
			t.Fatalf("scale %g", p.Scale)
		}
		for _, a := range []float64{p.Pitch, p.Yaw, p.Roll} {
			if math.IsNaN(a) || math.Abs(a) > 180 {
				t.Fatalf("angle %g", a)
			}
		}
		mm := MetricMesh(lm, 512, 512, p, mesh)
		if mm == nil {
			t.Fatal("MetricMesh returned nil for a fitted pose")
		}
		// Extreme inputs may overflow float32 positions; the writers must
		// report that as ErrInvalidInput rather than write garbage.
		if err := WriteOBJ(&bytes.Buffer{}, mm, "m.mtl"); err != nil && !isInvalid(err) {
			t.Fatal(err)
		}
		if err := WriteGLB(&bytes.Buffer{}, mm, nil); err != nil && !isInvalid(err) {
			t.Fatal(err)
		}
	})
}

func isInvalid(err error) bool { return errors.Is(err, ErrInvalidInput) }

// FuzzRender rasterises arbitrary triangles (coordinates and indices from the
// fuzzer, including out-of-range indices, NaN and huge values) into a small
// image: no panics, and the depth and normal maps agree on coverage.
func FuzzRender(f *testing.F) {
	f.Add([]byte{}, uint8(16), uint8(16))
	tri := []byte{}
	for _, v := range []float32{1, 1, 0, 30, 2, 5, 3, 30, 9} {
		tri = binary.LittleEndian.AppendUint32(tri, math.Float32bits(v))
	}
	f.Add(tri, uint8(32), uint8(32))
	f.Add(append(tri, 0xff, 0xff, 0xff, 0x7f), uint8(1), uint8(200))
	f.Fuzz(func(t *testing.T, data []byte, w, h uint8) {
		var lm [][3]float32
		for ; len(data) >= 12; data = data[12:] {
			lm = append(lm, [3]float32{
				math.Float32frombits(binary.LittleEndian.Uint32(data)),
				math.Float32frombits(binary.LittleEndian.Uint32(data[4:])),
				math.Float32frombits(binary.LittleEndian.Uint32(data[8:])),
			})
		}
		var tris [][3]uint16
		for i := 0; i+2 < len(lm)+1; i += 2 { // includes one index past the end
			tris = append(tris, [3]uint16{uint16(i), uint16(i + 1), uint16(i + 2)})
		}
		d := RenderDepth(lm, int(w), int(h), tris)
		n := RenderNormals(lm, int(w), int(h), tris)
		if d.Bounds() != n.Bounds() {
			t.Fatalf("bounds %v vs %v", d.Bounds(), n.Bounds())
		}
		d2, n2 := RenderMaps(lm, int(w), int(h), tris)
		if !bytes.Equal(d.Pix, d2.Pix) || !bytes.Equal(n.Pix, n2.Pix) || d.Rect != d2.Rect || n.Rect != n2.Rect {
			t.Fatal("RenderMaps differs from RenderDepth/RenderNormals")
		}
		for y := range int(h) {
			for x := range int(w) {
				if (d.Gray16At(x, y).Y != 0) != (n.NRGBAAt(x, y).A != 0) {
					t.Fatalf("coverage differs at (%d,%d)", x, y)
				}
			}
		}
	})
}
