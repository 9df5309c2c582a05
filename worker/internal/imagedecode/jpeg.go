package imagedecode

import (
	"bytes"
	"image"
	"image/jpeg"
)

// decodeJPEGStd decodes with Go's image/jpeg: the pure-Go build's decoder
// and the cgo build's path for CMYK/YCCK files.
func decodeJPEGStd(data []byte) (*image.NRGBA, error) {
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return toNRGBA(img), nil
}
