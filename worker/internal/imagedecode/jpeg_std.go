//go:build !cgo || purejpeg

package imagedecode

import "image"

// JPEGDecoder names the JPEG implementation compiled in.
const JPEGDecoder = "image/jpeg"

// jpegScales: image/jpeg decodes at full size only.
func jpegScales() []Scale { return []Scale{{1, 1}} }

// decodeJPEG is the pure-Go fallback (CGO_ENABLED=0 or -tags purejpeg):
// Go's image/jpeg, whose chroma upsampling differs from libjpeg-turbo's (see
// jpeg_turbo.go), so landmarks differ slightly from MediaPipe's. It has no
// DCT scaling or lossless crop: the whole picture comes back at scale 1.
func decodeJPEG(data []byte, _, _ int, _ Scale, _ image.Rectangle) (*image.NRGBA, Scale, [2]float64, error) {
	img, err := decodeJPEGStd(data)
	return img, Scale{1, 1}, [2]float64{}, err
}
