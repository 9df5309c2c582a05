package onnxfp16

import "math"

// MaxHalf is the largest finite IEEE 754 binary16 value.
const MaxHalf = 65504

// HalfFromFloat32 converts f to IEEE 754 binary16 bits, rounding to nearest
// with ties to even. Subnormal halves are produced exactly where the value
// needs them (the smallest is 2⁻²⁴); smaller magnitudes round to a signed
// zero. Infinities stay infinite and NaNs stay NaN (quiet, payload's top bits
// kept). A finite f whose rounded magnitude would exceed MaxHalf is clamped
// to ±MaxHalf and reported with clamped = true.
func HalfFromFloat32(f float32) (h uint16, clamped bool) {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff

	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00, false
		}
		return sign | 0x7e00 | uint16(mant>>13), false
	}
	e := exp - 127 + 15 // rebiased exponent
	if e >= 0x1f {
		return sign | 0x7bff, true
	}
	if e <= 0 {
		// Subnormal half (or zero). The value is m·2^(exp−150) with the
		// implicit bit; in units of 2⁻²⁴ that is m >> (14−e).
		if e < -10 || exp == 0 {
			return sign, false // below half the smallest subnormal, or a float32 subnormal
		}
		m := mant | 0x800000
		return sign | uint16(roundShift(m, uint32(14-e))), false
	}
	// Normal: keep 10 of 23 mantissa bits. A carry out of the mantissa
	// correctly increments the exponent.
	v := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && v&1 == 1) {
		v++
	}
	if v >= 0x7c00 {
		return sign | 0x7bff, true
	}
	return sign | uint16(v), false
}

// roundShift returns m >> s rounded to nearest, ties to even (1 ≤ s < 32).
func roundShift(m, s uint32) uint32 {
	q := m >> s
	rem := m & (1<<s - 1)
	half := uint32(1) << (s - 1)
	if rem > half || (rem == half && q&1 == 1) {
		q++
	}
	return q
}

// Float32FromHalf converts IEEE 754 binary16 bits to float32 exactly.
func Float32FromHalf(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		v := float32(mant) / (1 << 24)
		if sign != 0 {
			v = -v
		}
		return v
	default:
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	}
}
