package onnxfp16_test

import (
	"math"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/models/onnxfp16"
)

func TestHalfKnownValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		f       float32
		h       uint16
		clamped bool
	}{
		{0, 0x0000, false},
		{float32(math.Copysign(0, -1)), 0x8000, false},
		{1, 0x3c00, false},
		{-2, 0xc000, false},
		{0.5, 0x3800, false},
		{0.1, 0x2e66, false},           // 0.0999755859375
		{1.0 / 3, 0x3555, false},       // 0.333251953125
		{65504, 0x7bff, false},         // largest half
		{65519.99, 0x7bff, false},      // rounds down to 65504
		{65520, 0x7bff, true},          // would round to +Inf: clamped
		{-1e6, 0xfbff, true},           // clamped to -65504
		{6.1035156e-05, 0x0400, false}, // smallest normal 2⁻¹⁴
		{5.9604645e-08, 0x0001, false}, // smallest subnormal 2⁻²⁴
		{2.9802322e-08, 0x0000, false}, // 2⁻²⁵: tie between 0 and 2⁻²⁴ → even (0)
		{4.4703484e-08, 0x0001, false}, // 1.5·2⁻²⁵ → 2⁻²⁴
		{8.940697e-08, 0x0002, false},  // 1.5·2⁻²⁴: tie between 1 and 2 → even (2)
		{1e-10, 0x0000, false},         // underflow
		{-1e-10, 0x8000, false},        // signed underflow
		{1.0009765625, 0x3c01, false},  // 1 + 2⁻¹⁰ exact
		{1.00048828125, 0x3c00, false}, // 1 + 2⁻¹¹: tie → even (1)
		{1.00146484375, 0x3c02, false}, // 1 + 3·2⁻¹¹: tie → even (1+2⁻⁹)
		{2047.9999, 0x6800, false},     // mantissa carry into the exponent (2048)
		{float32(math.Inf(1)), 0x7c00, false},
		{float32(math.Inf(-1)), 0xfc00, false},
	} {
		h, clamped := onnxfp16.HalfFromFloat32(tc.f)
		require.Equalf(t, tc.h, h, "HalfFromFloat32(%g) = %#04x, want %#04x", tc.f, h, tc.h)
		require.Equal(t, tc.clamped, clamped, "clamped for %g", tc.f)
	}
	h, clamped := onnxfp16.HalfFromFloat32(float32(math.NaN()))
	require.False(t, clamped)
	require.Equal(t, uint16(0x7c00), h&0x7c00, "NaN exponent")
	require.NotZero(t, h&0x03ff, "NaN mantissa")
	require.True(t, math.IsNaN(float64(onnxfp16.Float32FromHalf(h))))
}

// halfOracle finds the correctly rounded half of f by searching the sorted
// finite halves: an independent check of the bit-twiddling conversion.
type halfOracle struct {
	vals []float64 // non-negative finite halves, ascending
	bits []uint16
}

func newHalfOracle() *halfOracle {
	o := &halfOracle{}
	for h := uint16(0); h < 0x7c00; h++ {
		o.vals = append(o.vals, float64(onnxfp16.Float32FromHalf(h)))
		o.bits = append(o.bits, h)
	}
	return o
}

func (o *halfOracle) round(f float32) (uint16, bool) {
	a := math.Abs(float64(f))
	var sign uint16
	if math.Signbit(float64(f)) {
		sign = 0x8000
	}
	i := sort.SearchFloat64s(o.vals, a) // vals[i] ≥ a
	if i == len(o.vals) {
		// Beyond 65504: RNE gives 65504 below the midpoint to the next
		// power of two (65520), infinity from it on.
		if a < 65520 {
			return sign | 0x7bff, false
		}
		return sign | 0x7bff, true
	}
	if o.vals[i] == a || i == 0 {
		return sign | o.bits[i], false
	}
	lo, hi := o.vals[i-1], o.vals[i]
	switch {
	case a-lo < hi-a:
		return sign | o.bits[i-1], false
	case a-lo > hi-a:
		return sign | o.bits[i], false
	case o.bits[i-1]&1 == 0:
		return sign | o.bits[i-1], false
	default:
		return sign | o.bits[i], false
	}
}

func TestHalfMatchesOracle(t *testing.T) {
	t.Parallel()
	o := newHalfOracle()
	require.True(t, sort.Float64sAreSorted(o.vals))
	check := func(bits uint32) {
		f := math.Float32frombits(bits)
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return
		}
		got, gc := onnxfp16.HalfFromFloat32(f)
		want, wc := o.round(f)
		if got != want || gc != wc {
			require.Failf(t, "mismatch", "%g (%#08x): got %#04x/%v, want %#04x/%v", f, bits, got, gc, want, wc)
		}
	}
	// Every float32 near each half and each midpoint between halves …
	for h := uint32(0); h < 0x7c00; h++ {
		b := math.Float32bits(onnxfp16.Float32FromHalf(uint16(h)))
		for d := uint32(0); d < 3; d++ {
			check(b + d)
			check(b - d)
			check(b + d + 1<<12) // midpoint region of normal halves
			check(b + d - 1<<12)
			check((b + d) | 1<<31)
		}
	}
	// … and a sparse sweep over all bit patterns.
	for b := uint64(0); b < 1<<32; b += 4099 {
		check(uint32(b))
	}
}

func TestHalfRoundTripsEveryHalf(t *testing.T) {
	t.Parallel()
	for h := 0; h < 1<<16; h++ {
		f := onnxfp16.Float32FromHalf(uint16(h))
		if math.IsNaN(float64(f)) {
			continue
		}
		got, clamped := onnxfp16.HalfFromFloat32(f)
		require.False(t, clamped)
		require.Equalf(t, uint16(h), got, "half %#04x → %g", h, f)
	}
}

func BenchmarkHalfFromFloat32(b *testing.B) {
	xs := make([]float32, 1024)
	for i := range xs {
		xs[i] = float32(i-512) * 0.37
	}
	b.SetBytes(int64(4 * len(xs)))
	var sink uint16
	for b.Loop() {
		for _, x := range xs {
			h, _ := onnxfp16.HalfFromFloat32(x)
			sink ^= h
		}
	}
	_ = sink
}
