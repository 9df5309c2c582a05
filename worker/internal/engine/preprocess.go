package engine

import (
	"image"
	"math"
)

// letterbox maps image pixels to detector-input pixels: t = i*scale + pad,
// in continuous coordinates (pixel centres at +0.5).
type letterbox struct {
	scale, padX, padY float32
}

// toImage maps a point in input-tensor pixels back to image pixels.
func (l letterbox) toImage(x, y float32) (float32, float32) {
	return (x - l.padX) / l.scale, (y - l.padY) / l.scale
}

// sampleTap is one axis of a bilinear sample: two source offsets and the
// weight of the second.
type sampleTap struct {
	o0, o1 int
	f      float32
	inside bool
}

// letterboxInto resizes img into a size×size NHWC RGB tensor in [-1, 1],
// keeping the aspect ratio and centring it with zero-border (black, -1)
// padding, as MediaPipe's ImageToTensorCalculator does with
// keep_aspect_ratio and BORDER_ZERO. Bilinear, one pass, straight into dst
// (len ≥ size*size*3). Alpha is ignored.
func letterboxInto(dst []float32, img *image.NRGBA, size int) letterbox {
	return letterboxFrameInto(dst, img, size, img.Rect, false)
}

// letterboxFrameInto is letterboxInto of the frame img is part of (frame in
// img's coordinates, those of img.Rect, containing it): the frame is scaled and
// centred and img's pixels sampled in their place; the tensor pixels img
// does not reach are black like the padding, or with keep left as dst has
// them (a background letterboxed there first). The returned letterbox maps
// to img's pixels, relative to img.Rect.Min as letterboxInto's.
func letterboxFrameInto(dst []float32, img *image.NRGBA, size int, frame image.Rectangle, keep bool) letterbox {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	fw, fh := frame.Dx(), frame.Dy()
	s := float32(size) / float32(max(fw, fh))
	off := frame.Min.Sub(img.Rect.Min) // the frame's corner from img's
	lb := letterbox{
		scale: s,
		padX:  (float32(size)-float32(fw)*s)/2 - float32(off.X)*s,
		padY:  (float32(size)-float32(fh)*s)/2 - float32(off.Y)*s,
	}
	var xsArr, ysArr [256]sampleTap
	xs, ys := xsArr[:0], ysArr[:0]
	if size > len(xsArr) {
		xs, ys = make([]sampleTap, 0, size), make([]sampleTap, 0, size)
	}
	xs = taps(xs, size, lb.padX, s, w, 4)
	ys = taps(ys, size, lb.padY, s, h, img.Stride)
	const k = 1.0 / 127.5
	pix := img.Pix
	i := 0
	for _, ty := range ys {
		if !ty.inside {
			if !keep {
				for j := range size * 3 {
					dst[i+j] = -1
				}
			}
			i += size * 3
			continue
		}
		r0, r1 := pix[ty.o0:], pix[ty.o1:]
		fy := ty.f
		for _, tx := range xs {
			if !tx.inside {
				if !keep {
					dst[i], dst[i+1], dst[i+2] = -1, -1, -1
				}
				i += 3
				continue
			}
			fx := tx.f
			a, b := r0[tx.o0:tx.o0+3:tx.o0+3], r0[tx.o1:tx.o1+3:tx.o1+3]
			c, d := r1[tx.o0:tx.o0+3:tx.o0+3], r1[tx.o1:tx.o1+3:tx.o1+3]
			for ch := range 3 {
				top := float32(a[ch]) + (float32(b[ch])-float32(a[ch]))*fx
				bot := float32(c[ch]) + (float32(d[ch])-float32(c[ch]))*fx
				dst[i+ch] = (top+(bot-top)*fy)*k - 1
			}
			i += 3
		}
	}
	return lb
}

// taps precomputes the bilinear taps of n output pixels along one axis:
// output pixel t samples source coordinate (t+0.5-pad)/scale - 0.5, clamped
// to the image; outputs whose centre lies outside the scaled image are
// padding. stride converts a source index into a byte offset.
func taps(dst []sampleTap, n int, pad, scale float32, extent, stride int) []sampleTap {
	lo, hi := pad, pad+float32(extent)*scale
	for t := range n {
		c := float32(t) + 0.5
		if c < lo || c >= hi {
			dst = append(dst, sampleTap{})
			continue
		}
		src := (c-pad)/scale - 0.5
		i0 := int(math.Floor(float64(src)))
		f := src - float32(i0)
		i1 := i0 + 1
		if i0 < 0 {
			i0, f = 0, 0
		}
		if i1 > extent-1 {
			i1 = extent - 1
		}
		if i0 > extent-1 {
			i0 = extent - 1
		}
		dst = append(dst, sampleTap{o0: i0 * stride, o1: i1 * stride, f: f, inside: true})
	}
	return dst
}

// cropInto samples the rotated rectangle r of img into a size×size NCHW RGB
// tensor in [0, 1] (dst has 3*size*size values: R plane, G plane, B plane),
// bilinear, with replicated borders (ImageToTensorCalculator's default
// BORDER_REPLICATE). Output pixel (u, v) takes the image point
// centre + R(rotation)·((u+0.5)/size-0.5)·W, ((v+0.5)/size-0.5)·H).
func cropInto(dst []float32, img *image.NRGBA, r ROI, size int) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	sin, cos := math.Sincos(float64(r.Rotation))
	sn, cs := float32(sin), float32(cos)
	// Image-point change per output step along u.
	ux, uy := cs*r.W/float32(size), sn*r.W/float32(size)
	plane := size * size
	rp, gp, bp := dst[:plane], dst[plane:2*plane], dst[2*plane:3*plane]
	const k = 1.0 / 255
	pix, stride := img.Pix, img.Stride
	maxX, maxY := float32(w-1), float32(h-1)
	i := 0
	for v := range size {
		b := (float32(v)+0.5)/float32(size) - 0.5
		a := 0.5/float32(size) - 0.5
		// Sample coordinates are image coordinates minus 0.5 (pixel centres
		// on integers).
		x := r.CX + a*r.W*cs - b*r.H*sn - 0.5
		y := r.CY + a*r.W*sn + b*r.H*cs - 0.5
		for range size {
			cx := min(max(x, 0), maxX)
			cy := min(max(y, 0), maxY)
			x0, y0 := int(cx), int(cy)
			fx, fy := cx-float32(x0), cy-float32(y0)
			x1, y1 := min(x0+1, w-1), min(y0+1, h-1)
			p00 := pix[y0*stride+x0*4:][:3:3]
			p01 := pix[y0*stride+x1*4:][:3:3]
			p10 := pix[y1*stride+x0*4:][:3:3]
			p11 := pix[y1*stride+x1*4:][:3:3]
			w00, w01 := (1-fx)*(1-fy)*k, fx*(1-fy)*k
			w10, w11 := (1-fx)*fy*k, fx*fy*k
			rp[i] = float32(p00[0])*w00 + float32(p01[0])*w01 + float32(p10[0])*w10 + float32(p11[0])*w11
			gp[i] = float32(p00[1])*w00 + float32(p01[1])*w01 + float32(p10[1])*w10 + float32(p11[1])*w11
			bp[i] = float32(p00[2])*w00 + float32(p01[2])*w01 + float32(p10[2])*w10 + float32(p11[2])*w11
			i++
			x += ux
			y += uy
		}
	}
}
