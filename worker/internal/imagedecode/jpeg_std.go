//go:build !cgo || purejpeg

package imagedecode

import "image"

// JPEGDecoder names the JPEG implementation compiled in.
const JPEGDecoder = "image/jpeg"

// decodeJPEG is the pure-Go fallback (CGO_ENABLED=0 or -tags purejpeg):
// Go's image/jpeg, whose chroma upsampling differs from libjpeg-turbo's (see
// jpeg_turbo.go), so landmarks differ slightly from MediaPipe's.
func decodeJPEG(data []byte, w, h int) (*image.NRGBA, error) {
	return decodeJPEGStd(data)
}
