package imageenc

import (
	"image"
	"math"
)

// PSNR is the peak signal-to-noise ratio (dB, peak 255) of got's colour
// against want's over the texels want has colour for (alpha > 0): how the
// lossy formats are measured (MEASURED.md). got's colour is taken
// un-premultiplied; +Inf when they are equal, NaN when want has no colour or
// the sizes differ.
func PSNR(want *image.NRGBA, got image.Image) float64 {
	b := want.Rect
	g := got.Bounds()
	if b.Size() != g.Size() {
		return math.NaN()
	}
	nrgba, _ := got.(*image.NRGBA)
	var se float64
	var n int
	for y := range b.Dy() {
		for x := range b.Dx() {
			p := want.Pix[y*want.Stride+4*x:]
			if p[3] == 0 {
				continue
			}
			var c [3]uint32
			if nrgba != nil {
				q := nrgba.Pix[y*nrgba.Stride+4*x:]
				c = [3]uint32{uint32(q[0]), uint32(q[1]), uint32(q[2])}
			} else {
				r, gg, bl, a := got.At(g.Min.X+x, g.Min.Y+y).RGBA()
				if a != 0 && a != 0xffff {
					r, gg, bl = r*0xffff/a, gg*0xffff/a, bl*0xffff/a
				}
				c = [3]uint32{r >> 8, gg >> 8, bl >> 8}
			}
			for k, v := range c {
				d := float64(p[k]) - float64(v)
				se += d * d
			}
			n += 3
		}
	}
	switch {
	case n == 0:
		return math.NaN()
	case se == 0:
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255*float64(n)/se)
}
