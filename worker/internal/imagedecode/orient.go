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
	w, h := src.Rect.Dx(), src.Rect.Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	// The mapping from destination to source pixel is affine; derive its
	// byte offsets once and keep the switch out of the inner loop.
	at := func(dx, dy int) int {
		var sx, sy int
		switch o {
		case 2:
			sx, sy = w-1-dx, dy
		case 3:
			sx, sy = w-1-dx, h-1-dy
		case 4:
			sx, sy = dx, h-1-dy
		case 5:
			sx, sy = dy, dx
		case 6:
			sx, sy = dy, h-1-dx
		case 7:
			sx, sy = w-1-dy, h-1-dx
		case 8:
			sx, sy = w-1-dy, dx
		}
		return sy*src.Stride + 4*sx
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
