package ict

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Triangle is one triangle of the ICT mesh: vertex indices, UV (vt) indices
// and the material group.
type Triangle struct {
	V        [3]int32
	T        [3]int32
	Material uint8
}

// Shape is one linear mode as a sparse list of vertex offsets (cm) from the
// neutral: Delta[k] moves vertex Index[k]; vertices not listed do not move.
type Shape struct {
	Name  string
	Index []int32
	Delta [][3]float32
}

// Model is the decoded pack: ICT-FaceKit's neutral head, its topology with
// UVs and material groups, the 100 identity modes (units of one standard
// deviation) and the expression shapes (weights 0..1).
//
// Mesh = Neutral + Σ id_i·Identity[i] + Σ ex_j·Expressions[j].
type Model struct {
	// Neutral positions in centimetres, ICT's frame (x = the subject's left,
	// y up, z towards the viewer).
	Neutral [][3]float32
	// UV are the OBJ texture coordinates (v = 0 at the bottom of the image).
	UV [][2]float32
	// Tris are the fan-triangulated polygons of generic_neutral_mesh.obj, in file order.
	Tris []Triangle
	// Materials are the usemtl names, indexed by Triangle.Material.
	Materials   []string
	Identity    []Shape
	Expressions []Shape
	// Landmarks68 are ICT's idx_to_landmark_verts (the 68 iBUG points).
	Landmarks68 []int
	// RigidLandmarks are idx_to_rigid_landmark_idx (indices into Landmarks68).
	RigidLandmarks []int
}

const (
	packMagic   = "ICTPACK1"
	packQuantum = 1.0 / 1024 // cm: offsets are stored as int16 multiples of this (≈ 0.01 mm)
)

// Encode quantises s into the pack format: the neutral, UVs and topology
// exactly (float32, uint16), every mode as int16 multiples of a power-of-two
// quantum (1/1024 cm, coarser only when a mode would overflow int16), with a
// vertex bitmask so vertices a mode does not move cost one bit; the payload
// is DEFLATE-compressed. Encoding is deterministic.
func Encode(s *Source) ([]byte, error) {
	nv := len(s.Neutral)
	if nv > math.MaxUint16 || len(s.UV) > math.MaxUint16 {
		return nil, fmt.Errorf("%w: %d vertices, %d UVs exceed the pack's uint16 indices", ErrMalformed, nv, len(s.UV))
	}
	var b bytes.Buffer
	w := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	str := func(x string) { w(uint8(len(x))); b.WriteString(x) }
	b.WriteString(packMagic)
	w(uint32(nv))
	w(uint32(len(s.UV)))
	w(uint32(len(s.Tris)))
	w(uint8(len(s.Materials)))
	for _, m := range s.Materials {
		str(m)
	}
	for k := range 3 {
		for _, v := range s.Neutral {
			w(v[k])
		}
	}
	for k := range 2 {
		for _, t := range s.UV {
			w(t[k])
		}
	}
	for _, t := range s.Tris {
		for k := range 3 {
			w(uint16(t.V[k]))
		}
		for k := range 3 {
			w(uint16(t.T[k]))
		}
		w(t.Material)
	}
	w(uint8(len(s.Landmarks)))
	for _, l := range s.Landmarks {
		w(uint16(l))
	}
	w(uint8(len(s.Rigid)))
	for _, l := range s.Rigid {
		w(uint8(l))
	}
	shapes := func(names []string, pos [][][3]float32) error {
		w(uint16(len(pos)))
		for i, p := range pos {
			str(names[i])
			if err := encodeShape(&b, s.Neutral, p); err != nil {
				return fmt.Errorf("shape %s: %w", names[i], err)
			}
		}
		return nil
	}
	idNames := make([]string, len(s.Identity))
	for i := range idNames {
		idNames[i] = fmt.Sprintf("identity%03d", i)
	}
	if err := shapes(idNames, s.Identity); err != nil {
		return nil, err
	}
	if err := shapes(s.ExprNames, s.Expr); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	zw, err := flate.NewWriter(&out, flate.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func encodeShape(b *bytes.Buffer, neutral, pos [][3]float32) error {
	var maxAbs float64
	for i, p := range pos {
		for k := range 3 {
			maxAbs = math.Max(maxAbs, math.Abs(float64(p[k]-neutral[i][k])))
		}
	}
	q := packQuantum
	for maxAbs/q > 32000 {
		q *= 2
	}
	nv := len(neutral)
	mask := make([]byte, (nv+7)/8)
	vals := make([][3]int16, 0, nv)
	for i, p := range pos {
		var qv [3]int16
		var nz bool
		for k := range 3 {
			qv[k] = int16(math.Round(float64(p[k]-neutral[i][k]) / q))
			nz = nz || qv[k] != 0
		}
		if nz {
			mask[i/8] |= 1 << (i % 8)
			vals = append(vals, qv)
		}
	}
	_ = binary.Write(b, binary.LittleEndian, float32(q))
	_ = binary.Write(b, binary.LittleEndian, uint32(len(vals)))
	b.Write(mask)
	// Planar x, y, z, then low bytes before high bytes: DEFLATE finds the
	// mostly-constant high bytes of small offsets.
	for _, hi := range []bool{false, true} {
		for k := range 3 {
			for _, v := range vals {
				u := uint16(v[k])
				if hi {
					b.WriteByte(byte(u >> 8))
				} else {
					b.WriteByte(byte(u))
				}
			}
		}
	}
	return nil
}

// Decode parses a pack written by Encode.
func Decode(pack []byte) (*Model, error) {
	raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(pack)))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	r := &reader{b: raw}
	if string(r.take(len(packMagic))) != packMagic {
		return nil, fmt.Errorf("%w: not an ICT pack", ErrMalformed)
	}
	nv, nt, ntri := int(r.u32()), int(r.u32()), int(r.u32())
	if r.err != nil || nv > math.MaxUint16 || nt > math.MaxUint16 || ntri > 1<<20 {
		return nil, fmt.Errorf("%w: bad header", ErrMalformed)
	}
	m := &Model{}
	for range int(r.u8()) {
		m.Materials = append(m.Materials, r.str())
	}
	m.Neutral = make([][3]float32, nv)
	for k := range 3 {
		for i := range m.Neutral {
			m.Neutral[i][k] = r.f32()
		}
	}
	m.UV = make([][2]float32, nt)
	for k := range 2 {
		for i := range m.UV {
			m.UV[i][k] = r.f32()
		}
	}
	m.Tris = make([]Triangle, ntri)
	for i := range m.Tris {
		t := &m.Tris[i]
		for k := range 3 {
			t.V[k] = int32(r.u16())
		}
		for k := range 3 {
			t.T[k] = int32(r.u16())
		}
		t.Material = r.u8()
		for k := range 3 {
			if int(t.V[k]) >= nv || int(t.T[k]) >= nt || int(t.Material) >= len(m.Materials) {
				return nil, fmt.Errorf("%w: triangle %d out of range", ErrMalformed, i)
			}
		}
	}
	for range int(r.u8()) {
		l := int(r.u16())
		if l >= nv {
			return nil, fmt.Errorf("%w: landmark out of range", ErrMalformed)
		}
		m.Landmarks68 = append(m.Landmarks68, l)
	}
	for range int(r.u8()) {
		m.RigidLandmarks = append(m.RigidLandmarks, int(r.u8()))
	}
	for _, dst := range []*[]Shape{&m.Identity, &m.Expressions} {
		n := int(r.u16())
		for range n {
			s := Shape{Name: r.str()}
			q := float64(r.f32())
			cnt := int(r.u32())
			if r.err != nil || cnt > nv {
				return nil, fmt.Errorf("%w: shape %q", ErrMalformed, s.Name)
			}
			mask := r.take((nv + 7) / 8)
			s.Index = make([]int32, 0, cnt)
			for i := range nv {
				if r.err == nil && mask[i/8]&(1<<(i%8)) != 0 {
					s.Index = append(s.Index, int32(i))
				}
			}
			if len(s.Index) != cnt {
				return nil, fmt.Errorf("%w: shape %q mask has %d vertices, header %d", ErrMalformed, s.Name, len(s.Index), cnt)
			}
			lo := r.take(3 * cnt)
			hi := r.take(3 * cnt)
			if r.err != nil {
				return nil, fmt.Errorf("%w: shape %q truncated", ErrMalformed, s.Name)
			}
			s.Delta = make([][3]float32, cnt)
			for k := range 3 {
				for i := range cnt {
					s.Delta[i][k] = float32(q * float64(int16(uint16(lo[k*cnt+i])|uint16(hi[k*cnt+i])<<8)))
				}
			}
			*dst = append(*dst, s)
		}
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: truncated pack", ErrMalformed)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(r.b))
	}
	return m, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || n > len(r.b) {
		r.err = io.ErrUnexpectedEOF
		return make([]byte, n)
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}
func (r *reader) u8() uint8   { return r.take(1)[0] }
func (r *reader) u16() uint16 { return binary.LittleEndian.Uint16(r.take(2)) }
func (r *reader) u32() uint32 { return binary.LittleEndian.Uint32(r.take(4)) }
func (r *reader) f32() float32 {
	return math.Float32frombits(r.u32())
}
func (r *reader) str() string { return string(r.take(int(r.u8()))) }
