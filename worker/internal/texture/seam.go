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
	// Forward pass: left, up-left, up, up-right; backward: the mirror.
	for y := range n {
		row, up := d[y*n:(y+1)*n], d[max(y-1, 0)*n:]
		for x := range n {
			v := row[x]
			if v == 0 {
				continue
			}
			if x > 0 {
				v = min(v, row[x-1]+3)
			}
			if y > 0 {
				v = min(v, up[x]+3)
				if x > 0 {
					v = min(v, up[x-1]+4)
				}
				if x < n-1 {
					v = min(v, up[x+1]+4)
				}
			}
			row[x] = v
		}
	}
	for y := n - 1; y >= 0; y-- {
		row, down := d[y*n:(y+1)*n], d[min(y+1, n-1)*n:]
		for x := n - 1; x >= 0; x-- {
			v := row[x]
			if v == 0 {
				continue
			}
			if x < n-1 {
				v = min(v, row[x+1]+3)
			}
			if y < n-1 {
				v = min(v, down[x]+3)
				if x < n-1 {
					v = min(v, down[x+1]+4)
				}
				if x > 0 {
					v = min(v, down[x-1]+4)
				}
			}
			row[x] = v
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

// gutter dilates the colour of the valid texels of out (alpha 255) into the
// empty texels around them, up to gutterWidth(size) texels (chessboard
// distance) away: outside the layout and into invalid texels inside it
// (holes counts them per coarse cell; nil when there are none). Each gutter texel gets the mean colour of its
// already coloured 8-neighbours and keeps alpha 0, so coverage still means
// valid texels while bilinear and mip-mapped lookups near a UV edge fetch
// face colour instead of black.
func gutter(out *image.NRGBA, lay *layout, holes []uint16) {
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
	if holes != nil {
		// Only cells with invalid texels next to (or with) valid ones.
		n, c := lay.cells, lay.cell
		for cy := range n {
			for cx := range n {
				if holes[cy*n+cx] == 0 || !validAround(holes, lay.cellInside, n, cx, cy) {
					continue
				}
				for y := cy * c; y < min((cy+1)*c, size); y++ {
					for x := cx * c; x < min((cx+1)*c, size); x++ {
						if t := y*size + x; out.Pix[t*4+3] == 0 && dilate(out.Pix, size, t, 1) {
							cur = append(cur, int32(t))
						}
					}
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
	add := func(p []uint8) {
		if a := p[3]; a == 255 || a-1 < k-1 { // valid, or 1 ≤ a < k
			r += uint32(p[0])
			g += uint32(p[1])
			b += uint32(p[2])
			n++
		}
	}
	if x > 0 && y > 0 && x < size-1 && y < size-1 {
		// Interior: three rows of three, no bounds per neighbour.
		for _, o := range [3]int{(t - size - 1) * 4, (t - 1) * 4, (t + size - 1) * 4} {
			p := pix[o : o+12 : o+12]
			add(p[0:4])
			add(p[4:8])
			add(p[8:12])
		}
	} else {
		for ny := max(y-1, 0); ny <= min(y+1, size-1); ny++ {
			for nx := max(x-1, 0); nx <= min(x+1, size-1); nx++ {
				o := (ny*size + nx) * 4
				add(pix[o : o+4 : o+4])
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

// validAround reports whether cell (cx, cy) or one of its 8 neighbours has
// a valid texel (fewer invalid texels than texels inside the layout).
func validAround(holes, inside []uint16, n, cx, cy int) bool {
	for y := max(cy-1, 0); y <= min(cy+1, n-1); y++ {
		for x := max(cx-1, 0); x <= min(cx+1, n-1); x++ {
			if k := y*n + x; holes[k] < inside[k] {
				return true
			}
		}
	}
	return false
}
