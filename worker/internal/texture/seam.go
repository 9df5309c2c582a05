package texture

import "image"

// featherGrid turns the seed cells marked by shade into f.dist and f.band.
// It reports false (and leaves them nil) when no cell is a seed.
func (f *frame) featherGrid() bool {
	if f.seam.feather <= 0 || !hasSeed(f.seed) {
		return false
	}
	n := f.cells
	// Two-pass 3-4 chamfer distance in thirds of a cell, capped.
	capD := uint16(3*f.seam.feather + 4)
	d := make([]uint16, n*n)
	for k, s := range f.seed {
		if s == 0 {
			d[k] = capD
		}
	}
	relax := func(k int, nb int, step uint16) {
		if v := d[nb] + step; v < d[k] {
			d[k] = v
		}
	}
	for y := range n {
		for x := range n {
			k := y*n + x
			if d[k] == 0 {
				continue
			}
			if x > 0 {
				relax(k, k-1, 3)
			}
			if y > 0 {
				relax(k, k-n, 3)
				if x > 0 {
					relax(k, k-n-1, 4)
				}
				if x < n-1 {
					relax(k, k-n+1, 4)
				}
			}
		}
	}
	for y := n - 1; y >= 0; y-- {
		for x := n - 1; x >= 0; x-- {
			k := y*n + x
			if d[k] == 0 {
				continue
			}
			if x < n-1 {
				relax(k, k+1, 3)
			}
			if y < n-1 {
				relax(k, k+n, 3)
				if x < n-1 {
					relax(k, k+n+1, 4)
				}
				if x > 0 {
					relax(k, k+n-1, 4)
				}
			}
		}
	}
	f.dist = make([]float32, n*n)
	f.band = make([]bool, n*n)
	full := float32(f.seam.feather)
	for k, v := range d {
		f.dist[k] = min(float32(v)/3, full)
		// A texel interpolates the cells around it: a cell is in the band
		// when it or a neighbour (at most 4 thirds nearer) is nearer than
		// the feather width.
		f.band[k] = v < uint16(3*f.seam.feather)+4
	}
	return true
}

func hasSeed(seed []uint8) bool {
	for _, s := range seed {
		if s != 0 {
			return true
		}
	}
	return false
}

// featherWeight is the own weight the feather allows at texel (i, j): the
// smoothstep of the distance to the nearest seed (bilinear between cell
// centres) over the feather width.
func (f *frame) featherWeight(i, j int) float64 {
	c := float64(f.cell)
	last := float64(f.cells - 1)
	gx := min(max((float64(i)+0.5)/c-0.5, 0), last)
	gy := min(max((float64(j)+0.5)/c-0.5, 0), last)
	x0, y0 := int(gx), int(gy)
	x1, y1 := min(x0+1, f.cells-1), min(y0+1, f.cells-1)
	tx, ty := float32(gx-float64(x0)), float32(gy-float64(y0))
	r0, r1 := f.dist[y0*f.cells:], f.dist[y1*f.cells:]
	top := r0[x0] + (r0[x1]-r0[x0])*tx
	bot := r1[x0] + (r1[x1]-r1[x0])*tx
	d := top + (bot-top)*ty
	return smoothstep(float64(d) / float64(f.seam.feather))
}

// feather blends the texels of spans whose own and mirrored samples are
// both valid towards the mirror near seed cells (own weight = the smaller
// of the geometric and the feather weight) and returns how much the
// mirrored share of their colour grew.
func (f *frame) feather(out *image.NRGBA, spans []span) (mirrored float64) {
	for _, sp := range spans {
		tf := &f.tris[sp.tri]
		if !tf.ownOK || !tf.mirOK {
			continue
		}
		j := int(sp.y)
		fj := float64(j)
		o, m := &tf.own, &tf.mir
		ox, oy, oz, oq := o.bx*fj+o.cx, o.by*fj+o.cy, o.bz*fj+o.cz, o.bq*fj+o.cq
		mx, my, mz, mq := m.bx*fj+m.cx, m.by*fj+m.cy, m.bz*fj+m.cz, m.bq*fj+m.cq
		band := f.band[j/f.cell*f.cells:]
		fw, fh := float64(f.w), float64(f.h)
		row := out.Pix[j*out.Stride:]
		for c := int(sp.x0) / f.cell; c*f.cell < int(sp.x1); c++ {
			if !band[c] {
				continue
			}
			for i := max(int(sp.x0), c*f.cell); i < min(int(sp.x1), (c+1)*f.cell); i++ {
				wf := f.featherWeight(i, j)
				if wf >= 1 {
					continue
				}
				fi := float64(i)
				x0, y0 := o.ax*fi+ox, o.ay*fi+oy
				if !(x0 >= 0 && y0 >= 0 && x0 <= fw && y0 <= fh && f.depth.visible(x0, y0, o.az*fi+oz)) {
					continue
				}
				x1, y1 := m.ax*fi+mx, m.ay*fi+my
				if !(x1 >= 0 && y1 >= 0 && x1 <= fw && y1 <= fh && f.depth.visible(x1, y1, m.az*fi+mz)) {
					continue
				}
				wg := 1.0
				if tf.blend {
					wg = f.seam.weight(o.aq*fi+oq, m.aq*fi+mq)
				}
				if wf >= wg {
					continue
				}
				f.mix(row[i*4:i*4+4:i*4+4], x0, y0, x1, y1, wf)
				mirrored += wg - wf
			}
		}
	}
	return mirrored
}

// gutter dilates the colour of the valid texels of out (alpha 255) into the
// empty texels around them, up to gutterWidth(size) texels (chessboard
// distance) away: outside the layout and into invalid texels inside it
// (holes says there are some). Each gutter texel gets the mean colour of its
// already coloured 8-neighbours and keeps alpha 0, so coverage still means
// valid texels while bilinear and mip-mapped lookups near a UV edge fetch
// face colour instead of black.
func gutter(out *image.NRGBA, lay *layout, holes bool) {
	size := lay.size
	// While this runs, the alpha of a texel coloured at level k is k
	// (1 ≤ k ≤ 8 < 255): level k reads only valid texels and levels < k,
	// so the order within a level does not matter.
	//
	// Level 1: the texels just outside the layout and the invalid ones
	// inside it that touch a valid texel.
	var cur, next []int32
	for _, t := range lay.edge {
		if dilate(out.Pix, size, int(t), 1) {
			cur = append(cur, t)
		}
	}
	if holes {
		for _, sp := range lay.spans {
			base := int(sp.y) * size
			for i := int(sp.x0); i < int(sp.x1); i++ {
				if out.Pix[(base+i)*4+3] == 0 && dilate(out.Pix, size, base+i, 1) {
					cur = append(cur, int32(base+i))
				}
			}
		}
	}
	filled := cur
	// Level k: the empty neighbours of level k−1.
	for k := 2; k <= gutterWidth(size); k++ {
		next = next[:0]
		for _, t := range cur {
			x, y := int(t)%size, int(t)/size
			for ny := max(y-1, 0); ny <= min(y+1, size-1); ny++ {
				for nx := max(x-1, 0); nx <= min(x+1, size-1); nx++ {
					n := ny*size + nx
					if out.Pix[n*4+3] == 0 && dilate(out.Pix, size, n, uint8(k)) {
						next = append(next, int32(n))
					}
				}
			}
		}
		filled = append(filled, next...)
		cur, next = next, cur
	}
	for _, t := range filled {
		out.Pix[int(t)*4+3] = 0
	}
}

// dilate colours texel t of pix (size² NRGBA, stride 4·size) with the mean
// of its 8-neighbours that are valid or were coloured at a level below k,
// marks it with alpha k and reports whether it had any.
func dilate(pix []uint8, size, t int, k uint8) bool {
	x, y := t%size, t/size
	var r, g, b, n uint32
	for ny := max(y-1, 0); ny <= min(y+1, size-1); ny++ {
		for nx := max(x-1, 0); nx <= min(x+1, size-1); nx++ {
			p := pix[(ny*size+nx)*4 : (ny*size+nx)*4+4 : (ny*size+nx)*4+4]
			if a := p[3]; a == 255 || a-1 < k-1 { // valid, or 1 ≤ a < k
				r += uint32(p[0])
				g += uint32(p[1])
				b += uint32(p[2])
				n++
			}
		}
	}
	if n == 0 {
		return false
	}
	p := pix[t*4 : t*4+4 : t*4+4]
	p[0], p[1], p[2], p[3] = uint8((r+n/2)/n), uint8((g+n/2)/n), uint8((b+n/2)/n), k
	return true
}
