package imagedecode

import "image"

// orient returns src transformed for display according to EXIF orientation
// o (1..8). Orientation 1 (and anything out of range) returns src itself.
//
//	1 identity          2 mirror horizontally   3 rotate 180°          4 mirror vertically
//	5 transpose         6 rotate 90° clockwise  7 transverse           8 rotate 90° counter-clockwise
func orient(src *image.NRGBA, o int) *image.NRGBA {
	if o < 2 || o > 8 {
		return src
	}
	dw, dh := src.Rect.Dx(), src.Rect.Dy()
	if o >= 5 {
		dw, dh = dh, dw
	}
	// The mapping from destination to source pixel is affine (storedPoint
	// at pixel centres); derive its byte offsets once and keep it out of
	// the inner loop.
	at := func(dx, dy int) int {
		x, y := storedPoint(o, dw, dh, float64(dx)+0.5, float64(dy)+0.5)
		return int(y-0.5)*src.Stride + 4*int(x-0.5)
	}
	base := at(0, 0)
	stepX, stepY := at(1, 0)-base, at(0, 1)-base
	dst := newNRGBA(dw, dh)
	for dy := 0; dy < dh; dy++ {
		drow := dst.Pix[dy*dst.Stride : dy*dst.Stride+4*dw]
		si := base + dy*stepY
		for dx := 0; dx < len(drow); dx += 4 {
			copy(drow[dx:dx+4], src.Pix[si:si+4])
			si += stepX
		}
	}
	return dst
}

// storedPoint maps a point of the upright picture (uw×uh, continuous pixel
// coordinates) to the file's stored pixels under EXIF orientation o: the one
// statement of the orientations' geometry, which orient, toStored and
// uprightOrigin use.
func storedPoint(o, uw, uh int, x, y float64) (float64, float64) {
	sw, sh := float64(uw), float64(uh)
	if o >= 5 && o <= 8 {
		sw, sh = sh, sw
	}
	switch o {
	case 2:
		return sw - x, y
	case 3:
		return sw - x, sh - y
	case 4:
		return x, sh - y
	case 5:
		return y, x
	case 6:
		return y, sh - x
	case 7:
		return sw - y, sh - x
	case 8:
		return sw - y, x
	}
	return x, y
}

// uprightPoint is storedPoint's inverse for a stored sw×sh file: each
// orientation is its own inverse but for the two quarter turns, which are
// each other's.
func uprightPoint(o, sw, sh int, x, y float64) (float64, float64) {
	switch o {
	case 6:
		o = 8
	case 8:
		o = 6
	}
	return storedPoint(o, sw, sh, x, y)
}
