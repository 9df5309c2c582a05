package imagedecode

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/png"
)

// decodePNG decodes a PNG. Files libpng reads exactly as image/png does go
// through libpng where it is compiled in (png_cgo.go: 2–3× faster on photos);
// the rest, and every file in the pure-Go build, through image/png.
func decodePNG(data []byte, w, h int) (image.Image, error) {
	if plainPNG(data) {
		if img, ok, err := decodePNGFast(data, w, h); ok {
			return img, err
		}
	}
	return png.Decode(bytes.NewReader(data))
}

// plainPNG reports whether data is a PNG that libpng's simplified API
// decodes to the same 8-bit NRGBA as image/png: 8-bit grey, RGB or RGBA
// (colour types 0, 2, 6), no transparency chunk and no colour-space chunk
// that would make libpng convert (gAMA, cHRM, iCCP; sRGB is what it assumes
// anyway). Palettes, 16-bit and sub-byte depths stay with image/png.
func plainPNG(data []byte) bool {
	const sig = 8
	if len(data) < sig+8+13 || string(data[sig+4:sig+8]) != "IHDR" {
		return false
	}
	ihdr := data[sig+8:]
	if depth, colour := ihdr[8], ihdr[9]; depth != 8 || (colour != 0 && colour != 2 && colour != 6) {
		return false
	}
	for p := sig; p+8 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[p:]))
		switch string(data[p+4 : p+8]) {
		case "IDAT":
			return true
		case "gAMA", "cHRM", "iCCP", "tRNS":
			return false
		}
		if n < 0 || n > len(data) {
			return false
		}
		p += 12 + n
	}
	return false
}
