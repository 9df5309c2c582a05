package texture

import (
	"image"
	"math"
	"slices"
)

// affine3 maps a texel (i, j) to a point of the photo:
// x = ax*i + bx*j + cx, likewise y and z.
type affine3 struct {
	ax, bx, cx float64
	ay, by, cy float64
	az, bz, cz float64
}

// triFrame is one triangle's per-photo state.
type triFrame struct {
	own, mir     affine3
	front, mirOK bool // own triangle / mirrored triangle faces the camera
	// mirFirst: the own triangle is seen at a grazing angle and its mirror
	// is not, so the mirror side is the better source.
	mirFirst bool
}

// grazing is the fraction of the face's median photo-to-UV area ratio below
// which a front-facing triangle counts as seen edge-on: its texels would be
// a few photo pixels smeared out, and a squarely seen mirror is better.
const grazing = 0.2

// frame is everything Unwrap derives from one photo and its landmarks.
type frame struct {
	pix        []uint8
	stride     int
	w, h       int
	minX, minY float64
	tris       []triFrame
	depth      depthBuffer
	backFacing int
}

func newFrame(img *image.NRGBA, lm [][3]float32, lay *layout) *frame {
	md := lay.mesh
	f := &frame{
		pix: img.Pix, stride: img.Stride,
		w: img.Rect.Dx(), h: img.Rect.Dy(),
		minX: float64(img.Rect.Min.X), minY: float64(img.Rect.Min.Y),
		tris: make([]triFrame, len(md.tris)),
	}
	mesh := meshTriangles(lay)
	front := make([]bool, len(md.tris))
	ratio := make([]float64, len(md.tris)) // photo area / UV area of front-facing triangles
	var ratios []float64
	for t := range md.tris {
		tu := md.tris[t]
		if !tu.ok {
			continue
		}
		a := signedArea(lm, mesh[t])
		switch {
		case a*tu.sign > 1e-6:
			front[t] = true
			ratio[t] = math.Abs(a) / 2 / tu.area
			ratios = append(ratios, ratio[t])
		case a*tu.sign < 0:
			f.backFacing++
		}
	}
	edgeOn := 0.0
	if len(ratios) > 0 {
		slices.Sort(ratios)
		edgeOn = grazing * ratios[len(ratios)/2]
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
		tf.front = front[t]
		tf.own = texelAffine(tu, s, lm, mesh[t], f.minX, f.minY)
		if mt := md.mirror[t]; mt >= 0 && front[mt] {
			tf.mirOK = true
			tf.mirFirst = front[t] && ratio[t] < edgeOn && ratio[mt] >= edgeOn
			tf.mir = texelAffine(tu, s, lm, md.mirrorVert[t], f.minX, f.minY)
		}
	}
	return f
}

// meshTriangles returns the triangle vertex indices the layout was built
// from (kept with the mesh data so frames need not see the mesh).
func meshTriangles(lay *layout) [][3]uint16 { return lay.mesh.verts }

func signedArea(lm [][3]float32, t [3]uint16) float64 {
	p0, p1, p2 := lm[t[0]], lm[t[1]], lm[t[2]]
	return float64(p1[0]-p0[0])*float64(p2[1]-p0[1]) - float64(p1[1]-p0[1])*float64(p2[0]-p0[0])
}

// texelAffine composes texel → (u, v) → barycentrics → photo point for the
// vertices v (in the triangle's vertex order) and shifts x, y into image-local
// pixel coordinates.
func texelAffine(tu triUV, s float64, lm [][3]float32, v [3]uint16, minX, minY float64) affine3 {
	q0, q1, q2 := lm[v[0]], lm[v[1]], lm[v[2]]
	var out [3][3]float64
	for c := range 3 {
		e1 := float64(q1[c] - q0[c])
		e2 := float64(q2[c] - q0[c])
		cu := tu.a1*e1 + tu.a2*e2
		cv := tu.bb1*e1 + tu.bb2*e2
		c0 := float64(q0[c]) + tu.c1*e1 + tu.c2*e2
		// u = (i+0.5)*s, v = (j+0.5)*s
		out[c] = [3]float64{cu * s, cv * s, c0 + 0.5*s*(cu+cv)}
	}
	out[0][2] -= minX
	out[1][2] -= minY
	return affine3{
		ax: out[0][0], bx: out[0][1], cx: out[0][2],
		ay: out[1][0], by: out[1][1], cy: out[1][2],
		az: out[2][0], bz: out[2][1], cz: out[2][2],
	}
}

// shade fills the texels of spans in out and returns how many became valid
// and how many of those came from the mirrored side.
func (f *frame) shade(out *image.NRGBA, spans []span) (valid, mirrored int) {
	for _, sp := range spans {
		tf := &f.tris[sp.tri]
		if !tf.front && !tf.mirOK {
			continue
		}
		j := float64(sp.y)
		o, m := tf.own, tf.mir
		ox, oy, oz := o.bx*j+o.cx, o.by*j+o.cy, o.bz*j+o.cz
		mx, my, mz := m.bx*j+m.cx, m.by*j+m.cy, m.bz*j+m.cz
		row := out.Pix[int(sp.y)*out.Stride:]
		for i := int(sp.x0); i < int(sp.x1); i++ {
			fi := float64(i)
			px := row[i*4 : i*4+4 : i*4+4]
			if tf.mirFirst && f.try(px, m, fi, mx, my, mz) {
				valid++
				mirrored++
				continue
			}
			if tf.front && f.try(px, o, fi, ox, oy, oz) {
				valid++
				continue
			}
			if tf.mirOK && !tf.mirFirst && f.try(px, m, fi, mx, my, mz) {
				valid++
				mirrored++
			}
		}
	}
	return valid, mirrored
}

// try samples the photo point of texel column fi through a (whose row
// terms are rx, ry, rz) into px if it is inside the photo and not hidden.
func (f *frame) try(px []uint8, a affine3, fi, rx, ry, rz float64) bool {
	x, y := a.ax*fi+rx, a.ay*fi+ry
	if x < 0 || y < 0 || x > float64(f.w) || y > float64(f.h) || !f.depth.visible(x, y, a.az*fi+rz) {
		return false
	}
	f.sample(px, x, y)
	return true
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
