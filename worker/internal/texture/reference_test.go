package texture

import (
	"image"

	"github.com/facefleet/facefleet/models/facemesh"
)

// The reference unwrap: how Unwrap shaded textures before the
// classify/paint split (shadeRef tests visibility and samples every texel
// at its geometric weight, featherRef then revisits the texels near
// mirror-filled ones, re-testing visibility and re-sampling the mirror to
// blend again). It is kept, in tests only, as the oracle the fast path is
// compared with (TestFastMatchesReference) and as the other side of
// BenchmarkUnwrapAlternate and BenchmarkStages. It shares the frame, the
// visibility cells and the bilinear sampler (sampleFix) with Unwrap; the
// pass structure and the two-step blend are the old ones.

// unwrapRef is unwrapSeam on the reference path.
func unwrapRef(img *image.NRGBA, landmarks [][3]float32, mesh *facemesh.Mesh, o Options, workers int, seam seamParams) (*image.NRGBA, Stats, error) {
	o.Workers = workers
	return unwrapWith(img, landmarks, mesh, o, seam, (*frame).shadeRefAll)
}

// shadeRefAll is the reference shader: shadeRef on every chunk's
// goroutine, then, where the mirror filled texels, the feather's distance
// grid and featherRef on every chunk's goroutine.
func (f *frame) shadeRefAll(out *image.NRGBA, chunks [][]span) (valid int, mirrored float64) {
	valid, mirrored = tally(len(chunks), func(w int) (int, float64) { return f.shadeRef(out, chunks[w]) })
	if f.featherGrid() {
		_, m := tally(len(chunks), func(w int) (int, float64) { return 0, f.featherRef(out, chunks[w]) })
		mirrored += m
	}
	return valid, mirrored
}

// shadeRef fills the texels of spans in out and returns how many became valid
// and the mirrored side's share of their colour (a texel blended half and
// half counts ½). Texels filled from the mirror because their own side
// could not be sampled mark their coarse cell in f.seed.
func (f *frame) shadeRef(out *image.NRGBA, spans []span) (valid int, mirrored float64) {
	for _, sp := range spans {
		tf := &f.tris[sp.tri]
		holes := f.holes[int(sp.y)/f.cell*f.cells:]
		if !tf.ownOK && !tf.mirOK {
			for i := int(sp.x0); i < int(sp.x1); i++ {
				holes[i/f.cell]++
			}
			continue
		}
		j := float64(sp.y)
		o, m := &tf.own, &tf.mir
		ox, oy, oz, oq := o.bx*j+o.cx, o.by*j+o.cy, o.bz*j+o.cz, o.bq*j+o.cq
		mx, my, mz, mq := m.bx*j+m.cx, m.by*j+m.cy, m.bz*j+m.cz, m.bq*j+m.cq
		row := out.Pix[int(sp.y)*out.Stride:]
		seeds := f.seed[int(sp.y)/f.cell*f.cells:]
		for i := int(sp.x0); i < int(sp.x1); i++ {
			fi := float64(i)
			px := row[i*4 : i*4+4 : i*4+4]
			w := 1.0
			if tf.blend {
				w = f.seam.weight(o.aq*fi+oq, m.aq*fi+mq)
			}
			var x0, y0 float64
			ownV := false
			if tf.ownOK {
				x0, y0 = o.ax*fi+ox, o.ay*fi+oy
				// The grid lies within the image (up to a cell), and
				// sample clamps at its border.
				if k := f.vis.cell(x0, y0); k >= 0 {
					ownV = f.vis.sees(k, o.az*fi+oz, &tf.os)
				}
				if ownV && w >= 1 {
					f.sample(px, x0, y0)
					valid++
					continue
				}
			}
			if !tf.mirOK {
				if ownV {
					f.sample(px, x0, y0)
					valid++
				} else {
					holes[i/f.cell]++
				}
				continue
			}
			x1, y1 := m.ax*fi+mx, m.ay*fi+my
			mirV := false
			if k := f.vis.cell(x1, y1); k >= 0 {
				mirV = f.vis.sees(k, m.az*fi+mz, &tf.ms)
			}
			switch {
			case ownV && mirV:
				f.mixRef(px, x0, y0, x1, y1, w)
				valid++
				mirrored += 1 - w
			case ownV:
				f.sample(px, x0, y0)
				valid++
			case mirV:
				f.sample(px, x1, y1)
				valid++
				mirrored++
				seeds[i/f.cell] = 1
			default:
				holes[i/f.cell]++
			}
		}
	}
	return valid, mirrored
}

// mixRef writes w × the colour at (x0, y0) + (1 − w) × the colour at
// (x1, y1) into dst with alpha 255.
func (f *frame) mixRef(dst []uint8, x0, y0, x1, y1, w float64) {
	f.mixFix(dst, fixPos(x0), fixPos(y0), fixPos(x1), fixPos(y1), w)
}

// featherRef blends the texels of spans whose own and mirrored samples are
// both valid towards the mirror near seed cells (own weight = the smaller
// of the geometric and the feather weight) and returns how much the
// mirrored share of their colour grew. It runs after shade on the same
// texture and samples only the mirror.
func (f *frame) featherRef(out *image.NRGBA, spans []span) (mirrored float64) {
	// rowd is f.dist interpolated to the current texel row (cell centres
	// are at (k+0.5)·cell texels), padded by one so k+1 is always in range.
	rowd := make([]float32, f.cells+1)
	rowj := -1
	invFeather := 1 / float64(f.seam.feather)
	for _, sp := range spans {
		tf := &f.tris[sp.tri]
		if !tf.ownOK || !tf.mirOK {
			continue
		}
		j := int(sp.y)
		if j != rowj {
			rowj = j
			f.rowDist(rowd, j)
		}
		fj := float64(j)
		o, m := &tf.own, &tf.mir
		ox, oy, oz, oq := o.bx*fj+o.cx, o.by*fj+o.cy, o.bz*fj+o.cz, o.bq*fj+o.cq
		mx, my, mz, mq := m.bx*fj+m.cx, m.by*fj+m.cy, m.bz*fj+m.cz, m.bq*fj+m.cq
		band := f.band[j/f.cell*f.cells:]
		row := out.Pix[j*out.Stride:]
		for c := int(sp.x0) / f.cell; c*f.cell < int(sp.x1); c++ {
			if !band[c] {
				continue
			}
			for i := max(int(sp.x0), c*f.cell); i < min(int(sp.x1), (c+1)*f.cell); i++ {
				k, t := f.lerpIdx[i], f.lerpT[i]
				wf := smoothstep(float64(rowd[k]+(rowd[k+1]-rowd[k])*t) * invFeather)
				if wf >= 1 {
					continue
				}
				fi := float64(i)
				x0, y0 := o.ax*fi+ox, o.ay*fi+oy
				if !f.vis.visible(x0, y0, o.az*fi+oz, &tf.os) {
					continue
				}
				x1, y1 := m.ax*fi+mx, m.ay*fi+my
				if !f.vis.visible(x1, y1, m.az*fi+mz, &tf.ms) {
					continue
				}
				wg := 1.0
				if tf.blend {
					wg = f.seam.weight(o.aq*fi+oq, m.aq*fi+mq)
				}
				if wf >= wg {
					continue
				}
				// shade left wg·own + (1 − wg)·mirror; wf·own + (1 − wf)·mirror
				// is a = wf/wg of that plus 1 − a of the mirror.
				var mc [4]uint8
				f.sample(mc[:], x1, y1)
				ai := uint32(wf/wg*256 + 0.5)
				px := row[i*4 : i*4+4 : i*4+4]
				for c := range 3 {
					px[c] = uint8((uint32(px[c])*ai + uint32(mc[c])*(256-ai) + 128) >> 8)
				}
				mirrored += wg - wf
			}
		}
	}
	return mirrored
}
