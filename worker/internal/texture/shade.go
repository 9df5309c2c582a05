package texture

import (
	"image"
	"math"
	"slices"
)

// affine3 maps a texel (i, j) to a point of the photo and the frontality
// there: x = ax*i + bx*j + cx, likewise y, z and q.
type affine3 struct {
	ax, bx, cx float64
	ay, by, cy float64
	az, bz, cz float64
	aq, bq, cq float64
}

// triFrame is one triangle's per-photo state.
type triFrame struct {
	own, mir affine3
	// ownOK: the own triangle can be sampled (it faces the camera, or it is
	// a small fold among triangles that do); mirOK: likewise its mirror.
	ownOK, mirOK bool
	// blend: both sides can be sampled and somewhere in the triangle the
	// own side is seen at a grazing angle while the mirror is not, so the
	// geometric own weight may be below 1.
	blend bool
}

// seamParams decide how own and mirrored samples are mixed where both are
// valid.
//
// Frontality q is the photo-to-UV area ratio of the triangles around a
// vertex, divided by the face's median, interpolated across each triangle:
// it falls towards 0 where the surface turns edge-on and is negative where
// it faces away. The layout widens the sides of the face, so even a frontal
// photo sees them at q well below 1, on both sides alike. The geometric
// mirror weight is (1 − s((q_own − lo)/(hi − lo))) · s((q_mirror − q_own −
// margin)/ramp), s the smoothstep: the mirror takes over only where the own
// side is seen edge-on and the mirror side clearly better. With hi ≤ lo it
// is a hard switch: mirror where q_own < lo ≤ q_mirror.
//
// Own texels within feather coarse cells of a texel that had to be filled
// from the mirror (own side hidden, facing away or outside the photo) are
// blended towards the mirror, so the fill boundary is a ramp, not a step.
type seamParams struct {
	lo, hi       float64
	margin, ramp float64
	feather      int // band width in coarse cells (layout.cell texels); 0: none
	// foldQ: a triangle that faces away but whose three vertices all have
	// frontality above foldQ is a fold (lip, nostril), sampled from its
	// own side.
	foldQ float64

	hard          bool    // hi ≤ lo
	invSpan, invR float64 // 1/(hi − lo), 1/ramp
}

// prepared fills in the derived fields.
func (s seamParams) prepared() seamParams {
	s.hard = s.hi <= s.lo
	if !s.hard {
		s.invSpan = 1 / (s.hi - s.lo)
		s.invR = 1 / s.ramp
	}
	return s
}

// defaultSeam is what Unwrap uses: a soft change-over for own frontality
// between 0.1 and 0.4 (the old hard switch was at 0.2) where the mirror is
// better by 0.1 to 0.4, a 3-cell feather (24 texels at 1024²), folds among
// well-seen triangles kept.
func defaultSeam() seamParams {
	return seamParams{lo: 0.1, hi: 0.4, margin: 0.1, ramp: 0.3, feather: 3, foldQ: 0.3}.prepared()
}

// hardSeam switches hard between the sides at q = 0.2 with no feather and
// no fold rule: how textures were made before the seam blend (kept for the
// seam tests).
func hardSeam() seamParams {
	return seamParams{lo: 0.2, hi: 0.2, foldQ: math.Inf(1)}.prepared()
}

// weight is the geometric own weight at own and mirror frontality qo, qm.
func (s *seamParams) weight(qo, qm float64) float64 {
	if s.hard {
		if qo < s.lo && qm >= s.lo {
			return 0
		}
		return 1
	}
	a := (qo - s.lo) * s.invSpan
	b := (qm - qo - s.margin) * s.invR
	if a >= 1 || b <= 0 {
		return 1
	}
	return 1 - (1-smoothstep(a))*smoothstep(b)
}

// mayBlend reports whether the weight can be below 1 for own frontality in
// [qoMin, …] and mirror frontality up to qmMax, with qm − qo up to dMax.
func (s *seamParams) mayBlend(qoMin, qmMax, dMax float64) bool {
	if s.hard {
		return qoMin < s.lo && qmMax >= s.lo
	}
	return qoMin < s.hi && dMax > s.margin
}

// smoothstep is 3t² − 2t³ on [0, 1], 0 below, 1 above.
func smoothstep(t float64) float64 {
	if t <= 0 {
		return 0
	}
	if t >= 1 {
		return 1
	}
	return t * t * (3 - 2*t)
}

// frame is everything Unwrap derives from one photo and its landmarks.
type frame struct {
	pix        []uint8
	stride     int
	w, h       int
	minX, minY float64
	tris       []triFrame
	depth      depthBuffer
	backFacing int
	seam       seamParams

	// The coarse seam grid (cells × cells of cell² texels): seed marks
	// cells with a texel filled from the mirror because its own side could
	// not be sampled; after featherGrid, dist is the distance of each cell
	// centre to the nearest seed cell in cells (capped at seam.feather) and
	// band marks the cells whose texels the feather may change.
	cell, cells int
	seed        []uint8
	dist        []float32
	band        []bool
	// holes counts the texels per cell that shade left invalid.
	holes []uint16
	// lerpIdx, lerpT: the layout's cell-centre interpolation per texel
	// coordinate.
	lerpIdx []uint16
	lerpT   []float32
}

func newFrame(img *image.NRGBA, lm [][3]float32, lay *layout, seam seamParams) *frame {
	md := lay.mesh
	f := &frame{
		pix: img.Pix, stride: img.Stride,
		w: img.Rect.Dx(), h: img.Rect.Dy(),
		minX: float64(img.Rect.Min.X), minY: float64(img.Rect.Min.Y),
		tris: make([]triFrame, len(md.tris)),
		seam: seam,
		cell: lay.cell, cells: lay.cells,
		seed:  make([]uint8, lay.cells*lay.cells),
		holes: make([]uint16, lay.cells*lay.cells),

		lerpIdx: lay.lerpIdx, lerpT: lay.lerpT,
	}
	mesh := md.verts
	front := make([]bool, len(md.tris))
	area := make([]float64, len(md.tris)) // photo area, > 0 facing the camera
	var ratios []float64
	for t := range md.tris {
		tu := md.tris[t]
		if !tu.ok {
			continue
		}
		a := signedArea(lm, mesh[t]) * tu.sign / 2
		area[t] = a
		switch {
		case a > 5e-7:
			front[t] = true
			ratios = append(ratios, a/tu.area)
		case a < 0:
			f.backFacing++
		}
	}
	median := 0.0
	if len(ratios) > 0 {
		slices.Sort(ratios)
		median = ratios[len(ratios)/2]
	}
	// Vertex frontality: the fan's photo area over its UV area, relative to
	// the median ratio.
	q := make([]float64, len(md.fanUV))
	for t, tri := range mesh {
		if md.tris[t].ok {
			for _, k := range tri {
				q[k] += area[t]
			}
		}
	}
	for v, uv := range md.fanUV {
		if uv > 0 && median > 0 {
			q[v] /= uv * median
		} else {
			q[v] = 0
		}
	}
	usable := make([]bool, len(md.tris))
	for t, tri := range mesh {
		usable[t] = md.tris[t].ok && (front[t] || q[tri[0]] > seam.foldQ && q[tri[1]] > seam.foldQ && q[tri[2]] > seam.foldQ)
	}
	f.depth = newDepthBuffer(lm, mesh, front)
	f.depth.ox -= f.minX // shade works in image-local coordinates
	f.depth.oy -= f.minY
	s := 1 / float64(lay.size)
	for t := range md.tris {
		tu := md.tris[t]
		if !tu.ok {
			continue
		}
		tf := &f.tris[t]
		tf.ownOK = usable[t]
		tf.own = texelAffine(tu, s, lm, q, mesh[t], f.minX, f.minY)
		if mt := md.mirror[t]; mt >= 0 && usable[mt] {
			mv := md.mirrorVert[t]
			tf.mirOK = true
			tf.mir = texelAffine(tu, s, lm, q, mv, f.minX, f.minY)
			ov := mesh[t]
			if ov == mv { // the mirror map leaves the triangle as it is
				tf.mirOK = false
				continue
			}
			// q is affine across the triangle: the extremes of qo and of
			// qm − qo are at the vertices.
			dMax := max(q[mv[0]]-q[ov[0]], q[mv[1]]-q[ov[1]], q[mv[2]]-q[ov[2]])
			tf.blend = tf.ownOK && seam.mayBlend(min(q[ov[0]], q[ov[1]], q[ov[2]]), max(q[mv[0]], q[mv[1]], q[mv[2]]), dMax)
		}
	}
	return f
}

func signedArea(lm [][3]float32, t [3]uint16) float64 {
	p0, p1, p2 := lm[t[0]], lm[t[1]], lm[t[2]]
	return float64(p1[0]-p0[0])*float64(p2[1]-p0[1]) - float64(p1[1]-p0[1])*float64(p2[0]-p0[0])
}

// texelAffine composes texel → (u, v) → barycentrics → photo point and
// frontality for the vertices v (in the triangle's vertex order) and shifts
// x, y into image-local pixel coordinates.
func texelAffine(tu triUV, s float64, lm [][3]float32, q []float64, v [3]uint16, minX, minY float64) affine3 {
	var out [4][3]float64
	for c := range 4 {
		var c0, c1, c2 float64
		if c < 3 {
			c0, c1, c2 = float64(lm[v[0]][c]), float64(lm[v[1]][c]), float64(lm[v[2]][c])
		} else {
			c0, c1, c2 = q[v[0]], q[v[1]], q[v[2]]
		}
		e1, e2 := c1-c0, c2-c0
		cu := tu.a1*e1 + tu.a2*e2
		cv := tu.bb1*e1 + tu.bb2*e2
		k := c0 + tu.c1*e1 + tu.c2*e2
		// u = (i+0.5)*s, v = (j+0.5)*s
		out[c] = [3]float64{cu * s, cv * s, k + 0.5*s*(cu+cv)}
	}
	out[0][2] -= minX
	out[1][2] -= minY
	return affine3{
		ax: out[0][0], bx: out[0][1], cx: out[0][2],
		ay: out[1][0], by: out[1][1], cy: out[1][2],
		az: out[2][0], bz: out[2][1], cz: out[2][2],
		aq: out[3][0], bq: out[3][1], cq: out[3][2],
	}
}

// shade fills the texels of spans in out and returns how many became valid
// and the mirrored side's share of their colour (a texel blended half and
// half counts ½). Texels filled from the mirror because their own side
// could not be sampled mark their coarse cell in f.seed.
func (f *frame) shade(out *image.NRGBA, spans []span) (valid int, mirrored float64) {
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
		fw, fh := float64(f.w), float64(f.h)
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
				ownV = x0 >= 0 && y0 >= 0 && x0 <= fw && y0 <= fh && f.depth.visible(x0, y0, o.az*fi+oz)
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
			mirV := x1 >= 0 && y1 >= 0 && x1 <= fw && y1 <= fh && f.depth.visible(x1, y1, m.az*fi+mz)
			switch {
			case ownV && mirV:
				f.mix(px, x0, y0, x1, y1, w)
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

// mix writes w × the colour at (x0, y0) + (1 − w) × the colour at (x1, y1)
// into dst with alpha 255.
func (f *frame) mix(dst []uint8, x0, y0, x1, y1, w float64) {
	switch {
	case w >= 1:
		f.sample(dst, x0, y0)
		return
	case w <= 0:
		f.sample(dst, x1, y1)
		return
	}
	var a, b [4]uint8
	f.sample(a[:], x0, y0)
	f.sample(b[:], x1, y1)
	wi := uint32(w*256 + 0.5)
	for c := range 3 {
		dst[c] = uint8((uint32(a[c])*wi + uint32(b[c])*(256-wi) + 128) >> 8)
	}
	dst[3] = 255
}

// sample writes the bilinearly filtered colour at (x, y) (pixel i covers
// [i, i+1)) into dst with alpha 255.
func (f *frame) sample(dst []uint8, x, y float64) {
	px := min(max(x-0.5, 0), float64(f.w-1))
	py := min(max(y-0.5, 0), float64(f.h-1))
	x0, y0 := int(px), int(py)
	wx := uint32((px-float64(x0))*256 + 0.5)
	wy := uint32((py-float64(y0))*256 + 0.5)
	dx, dy := 4, f.stride
	if x0 >= f.w-1 {
		dx = 0
	}
	if y0 >= f.h-1 {
		dy = 0
	}
	p := y0*f.stride + x0*4
	r0 := f.pix[p : p+4+dx : p+4+dx]
	r1 := f.pix[p+dy : p+dy+4+dx : p+dy+4+dx]
	for c := range 3 {
		top := uint32(r0[c])*(256-wx) + uint32(r0[dx+c])*wx
		bot := uint32(r1[c])*(256-wx) + uint32(r1[dx+c])*wx
		dst[c] = uint8((top*(256-wy) + bot*wy + 1<<15) >> 16)
	}
	dst[3] = 255
}

// depthBuffer is a coarse z-buffer of the front-facing triangles over the
// landmarks' bounding box, used to find texels hidden behind nearer parts of
// the face (the nose in front of a turned cheek).
type depthBuffer struct {
	z          []float32
	w, h       int
	ox, oy, sc float64 // grid = (image - o) * sc
	eps        float64
}

// depthRes is the longest side of the depth grid in cells.
const depthRes = 512

func newDepthBuffer(lm [][3]float32, tris [][3]uint16, front []bool) depthBuffer {
	minX, minY := math.Inf(1), math.Inf(1)
	maxX, maxY := math.Inf(-1), math.Inf(-1)
	for _, p := range lm {
		minX, maxX = math.Min(minX, float64(p[0])), math.Max(maxX, float64(p[0]))
		minY, maxY = math.Min(minY, float64(p[1])), math.Max(maxY, float64(p[1]))
	}
	ext := math.Max(maxX-minX, maxY-minY)
	sc := 1.0
	if ext > depthRes {
		sc = depthRes / ext
	}
	if ext < 1e-6 {
		ext = 1e-6
	}
	d := depthBuffer{
		w: int((maxX-minX)*sc) + 2, h: int((maxY-minY)*sc) + 2,
		ox: minX, oy: minY, sc: sc,
		// A point counts as hidden when something is nearer by more than
		// 3% of the face's extent plus two grid cells at a 60° slope.
		eps: 0.03*ext + 2*1.8/sc,
	}
	d.z = make([]float32, d.w*d.h)
	for i := range d.z {
		d.z[i] = float32(math.Inf(1))
	}
	for t, tri := range tris {
		if front[t] {
			d.raster(lm[tri[0]], lm[tri[1]], lm[tri[2]])
		}
	}
	return d
}

func (d *depthBuffer) raster(p0, p1, p2 [3]float32) {
	x0, y0 := (float64(p0[0])-d.ox)*d.sc, (float64(p0[1])-d.oy)*d.sc
	x1, y1 := (float64(p1[0])-d.ox)*d.sc, (float64(p1[1])-d.oy)*d.sc
	x2, y2 := (float64(p2[0])-d.ox)*d.sc, (float64(p2[1])-d.oy)*d.sc
	area := (x1-x0)*(y2-y0) - (y1-y0)*(x2-x0)
	if math.Abs(area) < 1e-12 {
		return
	}
	inv := 1 / area
	i0 := clampInt(int(math.Floor(min(x0, x1, x2))), 0, d.w-1)
	i1 := clampInt(int(math.Ceil(max(x0, x1, x2))), 0, d.w-1)
	j0 := clampInt(int(math.Floor(min(y0, y1, y2))), 0, d.h-1)
	j1 := clampInt(int(math.Ceil(max(y0, y1, y2))), 0, d.h-1)
	z0, z1, z2 := float64(p0[2]), float64(p1[2]), float64(p2[2])
	for j := j0; j <= j1; j++ {
		cy := float64(j) + 0.5
		for i := i0; i <= i1; i++ {
			cx := float64(i) + 0.5
			b1 := ((cx-x0)*(y2-y0) - (cy-y0)*(x2-x0)) * inv
			b2 := ((x1-x0)*(cy-y0) - (y1-y0)*(cx-x0)) * inv
			if b1 < 0 || b2 < 0 || b1+b2 > 1 {
				continue
			}
			z := float32(z0 + b1*(z1-z0) + b2*(z2-z0))
			if k := j*d.w + i; z < d.z[k] {
				d.z[k] = z
			}
		}
	}
}

// visible reports whether the point (x, y, z) of the photo (image-local x, y)
// is not behind a nearer front-facing triangle.
func (d *depthBuffer) visible(x, y, z float64) bool {
	i := int((x - d.ox) * d.sc)
	j := int((y - d.oy) * d.sc)
	if i < 0 || j < 0 || i >= d.w || j >= d.h {
		return true
	}
	return z <= float64(d.z[j*d.w+i])+d.eps
}
