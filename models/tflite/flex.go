package tflite

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Custom operators carry their attributes as a FlexBuffers map
// (flatbuffers/flexbuffers.h). flexMap decodes the subset MediaPipe's custom
// operators use: a root map of string keys to integers, floats, booleans
// and vectors of numbers.

// FlexBuffers value types (flexbuffers.h Type).
const (
	flexNull          = 0
	flexInt           = 1
	flexUint          = 2
	flexFloat         = 3
	flexKey           = 4
	flexIndirectInt   = 6
	flexIndirectUint  = 7
	flexIndirectFloat = 8
	flexMapType       = 9
	flexVector        = 10
	flexVectorInt     = 11
	flexVectorUint    = 12
	flexVectorFloat   = 13
	flexVectorInt2    = 16 // fixed-length typed vectors: INT2..FLOAT4
	flexVectorFloat4  = 24
	flexBool          = 26
)

// flexAttrs is a decoded custom-options map: numbers as float64 (integers
// are exact up to 2^53), vectors as []float64.
type flexAttrs map[string]any

func flexUintAt(b []byte, p, width int) (uint64, error) {
	if p < 0 || p+width > len(b) {
		return 0, fmt.Errorf("%w: flexbuffer offset %d+%d of %d bytes", ErrFormat, p, width, len(b))
	}
	switch width {
	case 1:
		return uint64(b[p]), nil
	case 2:
		return uint64(binary.LittleEndian.Uint16(b[p:])), nil
	case 4:
		return uint64(binary.LittleEndian.Uint32(b[p:])), nil
	case 8:
		return binary.LittleEndian.Uint64(b[p:]), nil
	}
	return 0, fmt.Errorf("%w: flexbuffer width %d", ErrFormat, width)
}

// flexScalar reads a scalar of type typ stored at p with the given width.
func flexScalar(b []byte, p, width, typ int) (float64, error) {
	u, err := flexUintAt(b, p, width)
	if err != nil {
		return 0, err
	}
	switch typ {
	case flexInt:
		shift := 64 - 8*uint(width)
		return float64(int64(u<<shift) >> shift), nil
	case flexUint, flexBool:
		return float64(u), nil
	case flexFloat:
		switch width {
		case 4:
			return float64(math.Float32frombits(uint32(u))), nil
		case 8:
			return math.Float64frombits(u), nil
		}
	}
	return 0, fmt.Errorf("%w: flexbuffer scalar type %d width %d", ErrUnsupported, typ, width)
}

// flexTarget follows the backward offset stored at p.
func flexTarget(b []byte, p, width int) (int, error) {
	off, err := flexUintAt(b, p, width)
	if err != nil {
		return 0, err
	}
	q := p - int(off)
	if off > uint64(len(b)) || q < 0 {
		return 0, fmt.Errorf("%w: flexbuffer offset out of range", ErrFormat)
	}
	return q, nil
}

// flexValue decodes the value stored at p (width bytes, packed type byte
// packed) into a float64, a []float64 or nil.
func flexValue(b []byte, p, width int, packed byte) (any, error) {
	typ := int(packed >> 2)
	childWidth := 1 << (packed & 3)
	switch typ {
	case flexNull:
		return nil, nil
	case flexInt, flexUint, flexFloat, flexBool:
		return flexScalar(b, p, width, typ)
	case flexIndirectInt, flexIndirectUint, flexIndirectFloat:
		q, err := flexTarget(b, p, width)
		if err != nil {
			return nil, err
		}
		return flexScalar(b, q, childWidth, typ-flexIndirectInt+flexInt)
	}
	q, err := flexTarget(b, p, width)
	if err != nil {
		return nil, err
	}
	elem, n := 0, 0
	switch {
	case typ >= flexVectorInt && typ <= flexVectorFloat:
		elem = typ - flexVectorInt + flexInt
		size, err := flexUintAt(b, q-childWidth, childWidth)
		if err != nil {
			return nil, err
		}
		n = int(size)
	case typ >= flexVectorInt2 && typ <= flexVectorFloat4:
		k := typ - flexVectorInt2
		elem, n = k%3+flexInt, k/3+2
	case typ == flexVector:
		size, err := flexUintAt(b, q-childWidth, childWidth)
		if err != nil {
			return nil, err
		}
		n = int(size)
		if q+n*childWidth+n > len(b) {
			return nil, fmt.Errorf("%w: flexbuffer vector out of range", ErrFormat)
		}
		out := make([]float64, n)
		for i := range out {
			et := b[q+n*childWidth+i]
			if t := int(et >> 2); t >= flexMapType && t != flexBool {
				return nil, fmt.Errorf("%w: flexbuffer vector of non-scalars", ErrUnsupported)
			}
			v, err := flexValue(b, q+i*childWidth, childWidth, et)
			if err != nil {
				return nil, err
			}
			f, ok := v.(float64)
			if !ok {
				return nil, fmt.Errorf("%w: flexbuffer vector of non-scalars", ErrUnsupported)
			}
			out[i] = f
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%w: flexbuffer value type %d", ErrUnsupported, typ)
	}
	if n < 0 || n > len(b) {
		return nil, fmt.Errorf("%w: flexbuffer vector of %d", ErrFormat, n)
	}
	out := make([]float64, n)
	for i := range out {
		if out[i], err = flexScalar(b, q+i*childWidth, childWidth, elem); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// flexMap decodes custom options whose root is a map.
func flexMap(b []byte) (flexAttrs, error) {
	if len(b) < 3 {
		return nil, fmt.Errorf("%w: flexbuffer of %d bytes", ErrFormat, len(b))
	}
	rootWidth := int(b[len(b)-1])
	packed := b[len(b)-2]
	if packed>>2 != flexMapType {
		return nil, fmt.Errorf("%w: flexbuffer root type %d is not a map", ErrUnsupported, packed>>2)
	}
	w := 1 << (packed & 3)
	m, err := flexTarget(b, len(b)-2-rootWidth, rootWidth)
	if err != nil {
		return nil, err
	}
	size, err := flexUintAt(b, m-w, w)
	if err != nil {
		return nil, err
	}
	n := int(size)
	keysAt, err := flexTarget(b, m-3*w, w)
	if err != nil {
		return nil, err
	}
	keysWidth, err := flexUintAt(b, m-2*w, w)
	if err != nil {
		return nil, err
	}
	kw := int(keysWidth)
	if n > len(b) || m+n*w+n > len(b) {
		return nil, fmt.Errorf("%w: flexbuffer map of %d entries", ErrFormat, n)
	}
	out := flexAttrs{}
	for i := range n {
		kp, err := flexTarget(b, keysAt+i*kw, kw)
		if err != nil {
			return nil, err
		}
		end := kp
		for end < len(b) && b[end] != 0 {
			end++
		}
		if end == len(b) {
			return nil, fmt.Errorf("%w: flexbuffer key without terminator", ErrFormat)
		}
		v, err := flexValue(b, m+i*w, w, b[m+n*w+i])
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", b[kp:end], err)
		}
		out[string(b[kp:end])] = v
	}
	return out, nil
}

// number returns attribute key as a float64.
func (a flexAttrs) number(key string) (float64, error) {
	v, ok := a[key].(float64)
	if !ok {
		return 0, fmt.Errorf("%w: custom option %q missing or not a number", ErrUnsupported, key)
	}
	return v, nil
}

// numbers returns attribute key as a vector.
func (a flexAttrs) numbers(key string) ([]float64, error) {
	v, ok := a[key].([]float64)
	if !ok {
		return nil, fmt.Errorf("%w: custom option %q missing or not a vector", ErrUnsupported, key)
	}
	return v, nil
}
