//go:build !cgo || purepng

package imagedecode

import "image"

// PNGDecoder names the PNG implementation compiled in for plain 8-bit files.
const PNGDecoder = "image/png"

// decodePNGFast is absent in the pure-Go build (CGO_ENABLED=0 or -tags
// purepng): every PNG goes through image/png.
func decodePNGFast([]byte, int, int) (image.Image, bool, error) { return nil, false, nil }
