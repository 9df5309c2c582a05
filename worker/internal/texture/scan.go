package texture

import (
	"image"
	"math"
	"sync"
)

// Unwrap shades a texture in two passes over the layout's spans (runs of
// texels of one triangle in one texel row, cached per size), each split
// by rows across the workers:
//
//   - classify decides for every texel which sides are visible — the own
//     point, and the mirrored one only where the own side cannot be used
//     alone — and writes that decision (a texel code) into the texel's
//     alpha; texels filled from the mirror because their own side cannot
//     be sampled mark their coarse cell as a feather seed.
//   - paint, after the feather's distance grid is built from the seeds,
//     samples each texel once at its final own weight (the smaller of the
//     geometric and the feather weight) and sets alpha 255.
//
// Only the texels that the feather could blend and that classify did not
// already find both sides of test the mirror's visibility in paint. Along
// a span the photo positions are affine in the texel column, so paint
// steps them in 32.32 fixed point (sampleFix) instead of converting per
// texel.

// shade is Unwrap's shader: classify on every chunk's goroutine, the
// feather's distance grid, then paint on every chunk's goroutine.
func (f *frame) shade(out *image.NRGBA, chunks [][]span) (valid int, mirrored float64) {
	codes := getCodes(f.codeLen)
	defer codesPool.Put(codes)
	f.codes = *codes
	valid, mirrored = tally(len(chunks), func(w int) (int, float64) { return f.classify(chunks[w]) })
	feather := f.featherGrid()
	_, m := tally(len(chunks), func(w int) (int, float64) { return 0, f.paint(out, chunks[w], feather) })
	f.codes = nil
	return valid, mirrored + m
}

// codesPool holds texel code buffers (f.codes) for reuse: classify writes
// every code paint reads, so a buffer needs no clearing, and an unwrap
// does not allocate (and zero) one (about 0.7 MB at 1024²).
var codesPool sync.Pool

// getCodes returns a pooled code buffer of at least n bytes.
func getCodes(n int) *[]uint8 {
	if b, ok := codesPool.Get().(*[]uint8); ok && cap(*b) >= n {
		*b = (*b)[:n]
		return b
	}
	b := make([]uint8, n)
	return &b
}

// Texel codes classify writes into f.codes for paint.
const (
	texHole   = 0 // neither side visible: stays (0, 0, 0, 0) for the gutter
	texOwn    = 1 // the own point; the mirror not visible or not needed
	texMirror = 2 // only the mirrored point (a feather seed)
	texBoth   = 3 // both, own weight below 1
	// texPending: classifyOwn found the own side hidden; classify's
	// general loop decides.
	texPending = 4
	// texDone: paintOwn painted the texel.
	texDone = 5
)

// classify writes the texel code of every texel of spans into f.codes,
// counts the texels per cell it leaves invalid (f.holes), marks seed cells
// (f.seed) and returns how many texels are valid and how many come from
// the mirror alone.
func (f *frame) classify(spans []span) (valid int, mirrored float64) {
	cellOf := f.cellOf
	for _, sp := range spans {
		tf := &f.tris[sp.tri]
		holes := f.holes[int(sp.y)/f.cell*f.cells:]
		if !tf.ownOK && !tf.mirOK {
			for i := int(sp.x0); i < int(sp.x1); {
				c := int(cellOf[i])
				e := min(int(sp.x1), (c+1)*f.cell)
				holes[c] += uint16(e - i)
				i = e
			}
			continue
		}
		j := float64(sp.y)
		o, m := &tf.own, &tf.mir
		ox, oy, oz, oq := o.bx*j+o.cx, o.by*j+o.cy, o.bz*j+o.cz, o.bq*j+o.cq
		mx, my, mz, mq := m.bx*j+m.cx, m.by*j+m.cy, m.bz*j+m.cz, m.bq*j+m.cq
		cr := f.codes[f.codeRow[sp.y]:]
		seeds := f.seed[int(sp.y)/f.cell*f.cells:]
		// Without a geometric blend the own side decides alone where it
		// is visible: a tight loop first, then the rest for what it left.
		if tf.seen {
			for i := int(sp.x0); i < int(sp.x1); i++ {
				cr[i] = texOwn
			}
			valid += int(sp.x1 - sp.x0)
			continue
		}
		ownDone := tf.ownOK && !tf.blend
		if ownDone {
			left := f.classifyOwn(cr, int(sp.x0), int(sp.x1), o.ax, ox, o.ay, oy, o.az, oz, &tf.os)
			valid += int(sp.x1-sp.x0) - left
			if left == 0 {
				continue
			}
		}
		for i := int(sp.x0); i < int(sp.x1); i++ {
			fi := float64(i)
			a := cr[i : i+1 : i+1]
			ownV := false
			if ownDone {
				if a[0] != texPending {
					continue
				}
				a[0] = texHole
			} else if tf.ownOK {
				// The grid lies within the image (up to a cell), and
				// sample clamps at its border.
				if k := f.vis.cell(o.ax*fi+ox, o.ay*fi+oy); k >= 0 {
					ownV = f.vis.sees(k, o.az*fi+oz, &tf.os)
				}
				if ownV && (!tf.blend || f.seam.weight(o.aq*fi+oq, m.aq*fi+mq) >= 1) {
					a[0] = texOwn
					valid++
					continue
				}
			}
			if !tf.mirOK {
				if ownV {
					a[0] = texOwn
					valid++
				} else {
					a[0] = texHole
					holes[cellOf[i]]++
				}
				continue
			}
			mirV := false
			if k := f.vis.cell(m.ax*fi+mx, m.ay*fi+my); k >= 0 {
				mirV = f.vis.sees(k, m.az*fi+mz, &tf.ms)
			}
			switch {
			case ownV && mirV:
				a[0] = texBoth
				valid++
			case ownV:
				a[0] = texOwn
				valid++
			case mirV:
				a[0] = texMirror
				valid++
				mirrored++
				seeds[cellOf[i]] = 1
			default:
				a[0] = texHole
				holes[cellOf[i]]++
			}
		}
	}
	return valid, mirrored
}

// classifyOwn codes the texels of codes[lo:hi] (a row of f.codes) texOwn where the own point
// (image-local x = ax·i + cx, likewise y and z, on side s) is visible and
// texPending where it is not, and returns how many are pending.
func (f *frame) classifyOwn(codes []uint8, lo, hi int, ax, cx, ay, cy, az, cz float64, s *side) (pending int) {
	v := &f.vis
	for i := lo; i < hi; i++ {
		fi := float64(i)
		code := uint8(texPending)
		if k := v.cell(ax*fi+cx, ay*fi+cy); k >= 0 && v.sees(k, az*fi+cz, s) {
			code = texOwn
		} else {
			pending++
		}
		codes[i] = code
	}
	return pending
}

// paint colours the texels classify made valid and returns the mirrored
// share of the colour of the blended ones (a texel half and half counts
// ½). With feather (f.featherGrid found seeds) texels of both sides within
// the feather band are blended towards the mirror: own weight = the
// smaller of the geometric and the feather weight.
func (f *frame) paint(out *image.NRGBA, spans []span, feather bool) (mirrored float64) {
	// rowd is f.dist interpolated to the current texel row (cell centres
	// are at (k+0.5)·cell texels), padded by one so k+1 is always in range.
	var rowd []float32
	rowj := -1
	invFeather := 0.0
	if feather {
		rowd = make([]float32, f.cells+1)
		invFeather = 1 / float64(f.seam.feather)
	}
	cellOf := f.cellOf
	for _, sp := range spans {
		tf := &f.tris[sp.tri]
		if !tf.ownOK && !tf.mirOK {
			continue
		}
		j := int(sp.y)
		fj := float64(j)
		fe := feather && tf.ownOK && tf.mirOK
		var band []bool
		if fe {
			if j != rowj {
				rowj = j
				f.rowDist(rowd, j)
			}
			band = f.band[j/f.cell*f.cells:]
		}
		o, m := &tf.own, &tf.mir
		i0 := int(sp.x0)
		odx, ody, mdx, mdy := tf.step[0], tf.step[1], tf.step[2], tf.step[3]
		var ox, oy, mx, my int64
		if tf.ownOK {
			ox, oy = fixStart(o.ax, o.bx*fj+o.cx, i0), fixStart(o.ay, o.by*fj+o.cy, i0)
		}
		if tf.mirOK {
			mx, my = fixStart(m.ax, m.bx*fj+m.cx, i0), fixStart(m.ay, m.by*fj+m.cy, i0)
		}
		oq, mq := o.bq*fj+o.cq, m.bq*fj+m.cq
		fmx, fmy, fmz := m.bx*fj+m.cx, m.by*fj+m.cy, m.bz*fj+m.cz
		row, cr := out.Pix[j*out.Stride:], f.codes[f.codeRow[j]:]
		// Where the own positions of the whole span stay off the image's
		// last row and column (the usual case), the texels of the own side
		// alone outside the feather band go first, in a tight loop.
		last := int64(int(sp.x1) - 1 - i0)
		if tf.ownOK && f.interior(ox, oy) && f.interior(ox+last*odx, oy+last*ody) {
			var b []bool
			if fe {
				b = band
			}
			if f.paintOwn(row, cr, i0, int(sp.x1), ox, oy, odx, ody, b, rowd) == 0 {
				continue
			}
		}
		for i := i0; i < int(sp.x1); i++ {
			code := cr[i]
			if code == texHole || code == texDone {
				continue
			}
			px := row[i*4 : i*4+4 : i*4+4]
			k := int64(i - i0)
			switch code {
			case texMirror:
				f.sampleFix(px, mx+k*mdx, my+k*mdy)
			case texOwn:
				if fe && band[cellOf[i]] {
					if wf := featherWeight(rowd, f.lerpIdx[i], f.lerpT[i], invFeather); wf < 1 {
						fi := float64(i)
						if f.vis.visible(m.ax*fi+fmx, m.ay*fi+fmy, m.az*fi+fmz, &tf.ms) {
							f.mixFix(px, ox+k*odx, oy+k*ody, mx+k*mdx, my+k*mdy, wf)
							mirrored += 1 - wf
							continue
						}
					}
				}
				f.sampleFix(px, ox+k*odx, oy+k*ody)
			case texBoth:
				fi := float64(i)
				w := f.seam.weight(o.aq*fi+oq, m.aq*fi+mq)
				if fe && band[cellOf[i]] {
					w = min(w, featherWeight(rowd, f.lerpIdx[i], f.lerpT[i], invFeather))
				}
				f.mixFix(px, ox+k*odx, oy+k*ody, mx+k*mdx, my+k*mdy, w)
				mirrored += 1 - w
			}
		}
	}
	return mirrored
}

// paintOwn samples the own side, at fixed-point sample positions (x, y)
// at texel lo stepping (dx, dy) per texel, all off the image's last row
// and column, into the texels of row[lo:hi] coded texOwn in codes (their
// row of f.codes) whose feather weight is 1: outside band (nil: no band),
// or within it where the row's interpolated seed distance rowd is at
// least the feather's width; it recodes them texDone. It returns how many
// valid texels it left to paint's general loop.
func (f *frame) paintOwn(row, codes []uint8, lo, hi int, x, y, dx, dy int64, band []bool, rowd []float32) (left int) {
	pix, stride, cellOf := f.pix, f.stride, f.cellOf
	lerpIdx, lerpT, width := f.lerpIdx, f.lerpT, float32(f.seam.feather)
	for i := lo; i < hi; i, x, y = i+1, x+dx, y+dy {
		if c := codes[i]; c != texOwn {
			if c != texHole {
				left++
			}
			continue
		}
		if band != nil && band[cellOf[i]] {
			if k, t := lerpIdx[i], lerpT[i]; rowd[k]+(rowd[k+1]-rowd[k])*t < width {
				left++
				continue
			}
		}
		p := int(y>>32)*stride + int(x>>32)*4
		bilinear(row[i*4:i*4+4:i*4+4], pix[p:p+8:p+8], pix[p+stride:p+stride+8:p+stride+8], fixWeight(x), fixWeight(y))
		codes[i] = texDone
	}
	return left
}

// rowDist sets rowd (f.cells + 1 long) to f.dist interpolated to texel
// row j (cell centres are at (k+0.5)·cell texels), padded by one so that
// k+1 is always in range.
func (f *frame) rowDist(rowd []float32, j int) {
	k, t := f.lerpIdx[j], f.lerpT[j]
	r0, r1 := f.dist[int(k)*f.cells:], f.dist[min(int(k)+1, f.cells-1)*f.cells:]
	for x := range f.cells {
		rowd[x] = r0[x] + (r1[x]-r0[x])*t
	}
	rowd[f.cells] = rowd[f.cells-1]
}

// featherWeight is the feather's own weight at the texel whose column
// lies at fraction t between cell centres k and k+1 of the row's
// distances rowd.
func featherWeight(rowd []float32, k uint16, t float32, invFeather float64) float64 {
	return smoothstep(float64(rowd[k]+(rowd[k+1]-rowd[k])*t) * invFeather)
}

// fixOne is 1 in the 32.32 fixed point of sampleFix.
const fixOne = 1 << 32

// fixStart is the sample position (sample's px: the photo coordinate less
// half a pixel) at texel column i of the affine coordinate a·i + c, in
// 32.32 fixed point.
func fixStart(a, c float64, i int) int64 { return fixPos(a*float64(i) + c) }

// fixPos is sampleFix's position for the photo coordinate v: v less half a
// pixel in 32.32 fixed point, limited to ±2³⁰ pixels (far off any image;
// sampleFix clamps it to the border) so that it cannot overflow.
func fixPos(v float64) int64 {
	v -= 0.5
	if !(v > -1<<30) { // NaN too
		v = -1 << 30
	} else if v > 1<<30 {
		v = 1 << 30
	}
	return int64(math.Round(v * fixOne))
}

// fixStep is one texel column's step of the affine coordinate a·i + c in
// 32.32 fixed point.
func fixStep(a float64) int64 { return int64(math.Round(a * fixOne)) }

// sampleFix is sample at the 32.32 fixed-point sample position (x, y)
// (the photo coordinate less half a pixel): the same clamps, taps and
// 8-bit weights, without a float conversion per texel.
func (f *frame) sampleFix(dst []uint8, x, y int64) {
	if x < 0 {
		x = 0
	} else if x > f.maxXFix {
		x = f.maxXFix
	}
	if y < 0 {
		y = 0
	} else if y > f.maxYFix {
		y = f.maxYFix
	}
	x0, y0 := int(x>>32), int(y>>32)
	wx, wy := fixWeight(x), fixWeight(y)
	dy := f.stride
	if y0 >= f.h-1 {
		dy = 0
	}
	p := y0*f.stride + x0*4
	iy := 256 - wy
	dst = dst[:4:4]
	if x0 >= f.w-1 { // the last column: both taps on it
		r0 := f.pix[p : p+4 : p+4]
		r1 := f.pix[p+dy : p+dy+4 : p+dy+4]
		for c := range 3 {
			dst[c] = uint8(((uint32(r0[c])*256)*iy + (uint32(r1[c])*256)*wy + 1<<15) >> 16)
		}
		dst[3] = 255
		return
	}
	bilinear(dst, f.pix[p:p+8:p+8], f.pix[p+dy:p+dy+8:p+dy+8], wx, wy)
}

// fixWeight is the 8-bit bilinear weight (0..256) of a 32.32 fixed-point
// sample position's fraction, rounded.
func fixWeight(v int64) uint32 { return uint32((uint64(v)&(fixOne-1) + 1<<23) >> 24) }

// bilinear writes into dst the colour between the pixel pairs r0 (top)
// and r1 (bottom), NRGBA, at 8-bit weights wx, wy towards the second
// pixel and the bottom row, with alpha 255: (Σ pixel·weight + 2¹⁵) >> 16
// per channel. (Small enough to inline into paintOwn's loop.)
func bilinear(dst, r0, r1 []uint8, wx, wy uint32) {
	ix, iy := 256-wx, 256-wy
	dst = dst[:4:4]
	for c := range 3 {
		dst[c] = uint8(((uint32(r0[c])*ix+uint32(r0[c+4])*wx)*iy + (uint32(r1[c])*ix+uint32(r1[c+4])*wx)*wy + 1<<15) >> 16)
	}
	dst[3] = 255
}

// interior reports whether sampleFix at (x, y) needs no clamp: the
// position is on the image and off its last column and row.
func (f *frame) interior(x, y int64) bool {
	return x >= 0 && y >= 0 && x < f.maxXFix && y < f.maxYFix
}

// mixFix writes w × the colour at fixed-point sample position (x0, y0) +
// (1 − w) × the colour at (x1, y1) into dst with alpha 255.
func (f *frame) mixFix(dst []uint8, x0, y0, x1, y1 int64, w float64) {
	switch {
	case w >= 1:
		f.sampleFix(dst, x0, y0)
		return
	case w <= 0:
		f.sampleFix(dst, x1, y1)
		return
	}
	var a, b [4]uint8
	f.sampleFix(a[:], x0, y0)
	f.sampleFix(b[:], x1, y1)
	wi := uint32(w*256 + 0.5)
	for c := range 3 {
		dst[c] = uint8((uint32(a[c])*wi + uint32(b[c])*(256-wi) + 128) >> 8)
	}
	dst[3] = 255
}
