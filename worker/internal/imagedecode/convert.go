package imagedecode

import (
	"image"
	"image/color"
	"image/draw"
)

// toNRGBA converts any decoded image to an 8-bit non-premultiplied NRGBA with
// its origin at (0,0). The common decoder outputs have fast paths; an NRGBA
// that is already origin-based, or an opaque RGBA, shares its pixels.
func toNRGBA(src image.Image) *image.NRGBA {
	b := src.Bounds()
	if n, ok := src.(*image.NRGBA); ok && b.Min == (image.Point{}) {
		return n
	}
	if r, ok := src.(*image.RGBA); ok && b.Min == (image.Point{}) && r.Opaque() {
		// Opaque premultiplied RGBA is NRGBA byte for byte (image/png's
		// RGB output): share the pixels instead of copying 4 bytes/pixel.
		return &image.NRGBA{Pix: r.Pix, Stride: r.Stride, Rect: r.Rect}
	}
	w, h := b.Dx(), b.Dy()
	dst := newNRGBA(w, h)
	switch s := src.(type) {
	case *image.YCbCr, *image.Gray, *image.CMYK:
		// Opaque sources: an RGBA with A=255 is byte-identical to NRGBA, so
		// the standard library's optimised drawers do the work.
		draw.Draw(opaqueView(dst), dst.Rect, src, b.Min, draw.Src)
	case *image.NYCbCrA:
		draw.Draw(opaqueView(dst), dst.Rect, &s.YCbCr, b.Min, draw.Src)
		for y := 0; y < h; y++ {
			row := dst.Pix[y*dst.Stride : y*dst.Stride+4*w]
			ai := s.AOffset(b.Min.X, b.Min.Y+y)
			for x := 0; x < w; x++ {
				row[4*x+3] = s.A[ai+x]
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			copy(dst.Pix[y*dst.Stride:y*dst.Stride+4*w], s.Pix[s.PixOffset(b.Min.X, b.Min.Y+y):])
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			d := dst.Pix[y*dst.Stride : y*dst.Stride+4*w]
			p := s.Pix[s.PixOffset(b.Min.X, b.Min.Y+y):]
			for i := 0; i < 4*w; i += 4 {
				unpremultiply8(d[i:i+4:i+4], p[i], p[i+1], p[i+2], p[i+3])
			}
		}
	case *image.Paletted:
		var lut [256][4]byte
		for i, c := range s.Palette {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			lut[i] = [4]byte{n.R, n.G, n.B, n.A}
		}
		for y := 0; y < h; y++ {
			d := dst.Pix[y*dst.Stride : y*dst.Stride+4*w]
			p := s.Pix[s.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				copy(d[4*x:4*x+4], lut[p[x]][:])
			}
		}
	case *image.NRGBA64:
		for y := 0; y < h; y++ {
			d := dst.Pix[y*dst.Stride : y*dst.Stride+4*w]
			p := s.Pix[s.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ { // high byte of each big-endian sample
				d[4*x], d[4*x+1], d[4*x+2], d[4*x+3] = p[8*x], p[8*x+2], p[8*x+4], p[8*x+6]
			}
		}
	case *image.Gray16:
		for y := 0; y < h; y++ {
			d := dst.Pix[y*dst.Stride : y*dst.Stride+4*w]
			p := s.Pix[s.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				v := p[2*x]
				d[4*x], d[4*x+1], d[4*x+2], d[4*x+3] = v, v, v, 0xFF
			}
		}
	default: // RGBA64, Alpha, Gray16 with alpha, …: exact but slower
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBAModel.Convert(src.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				i := y*dst.Stride + 4*x
				dst.Pix[i], dst.Pix[i+1], dst.Pix[i+2], dst.Pix[i+3] = c.R, c.G, c.B, c.A
			}
		}
	}
	return dst
}

// opaqueView shares dst's pixels as an *image.RGBA; valid because the
// caller only draws opaque sources into it.
func opaqueView(dst *image.NRGBA) *image.RGBA {
	return &image.RGBA{Pix: dst.Pix, Stride: dst.Stride, Rect: dst.Rect}
}

func unpremultiply8(d []byte, r, g, b, a byte) {
	switch a {
	case 0xFF:
		d[0], d[1], d[2], d[3] = r, g, b, a
	case 0:
		d[0], d[1], d[2], d[3] = 0, 0, 0, 0
	default:
		d[0] = byte((uint32(r)*0xFF + uint32(a)/2) / uint32(a))
		d[1] = byte((uint32(g)*0xFF + uint32(a)/2) / uint32(a))
		d[2] = byte((uint32(b)*0xFF + uint32(a)/2) / uint32(a))
		d[3] = a
	}
}
