package head

import (
	"image"
	"image/color"
	"math"
	"sort"
)

// TextureTile is the side of one UV tile of the head texture; the texture is
// 2·TextureTile × TextureTile (face tile left, back of the head right).
const TextureTile = 1024

// TextureStats describes a baked head texture.
type TextureStats struct {
	// Seen is the fraction of the face tile's texels taken from the photo
	// directly (alpha > 0), Mirrored those taken from the mirrored side.
	Seen, Mirrored float64
	// Skin is the fill colour (median of the seen face texels).
	Skin color.NRGBA
}

// featherCM is how far inside the landmarks' hull (cm on the face) the photo
// fades in from the skin tone.
const featherCM = 0.8

// minFacing is the cosine between a surface normal and the view direction
// below which the photo is not sampled (grazing views smear).
const minFacing = 0.2

// BakeTexture bakes the photo into ICT's UV layout for the posed head: a
// face-tile texel the camera sees (depth-tested, facing the camera, inside
// the convex hull of the face's landmarks, so no background or hair beyond
// the face is baked in) takes the
// photo's colour and alpha = how squarely it faced the camera; an unseen
// texel whose mirror image across the face's midline is seen takes that
// colour (alpha 0); everything else, the back of the head and the neck
// included, is the skin tone (the median seen colour, alpha 0).
func (h *Head) BakeTexture(img *image.NRGBA) (*image.NRGBA, TextureStats) {
	tp := loadTopology()
	m := tp.m
	W, H := img.Bounds().Dx(), img.Bounds().Dy()
	tw, th := 2*TextureTile, TextureTile
	pose := h.Fit.Pose
	proj := make([][3]float64, len(h.Posed))
	for i, v := range h.Posed {
		proj[i] = pose.Project([3]float64{float64(v[0]), float64(v[1]), float64(v[2])}, W, H)
	}
	normals := vertexNormals(h.Posed, m)
	zb := newDepth(proj, W, H)
	face, back := -1, -1
	for g, name := range m.Materials {
		switch name {
		case matFace:
			face = g
		case matBackHead:
			back = g
		}
	}
	for g := range tp.groups {
		if g == face || g == back {
			for _, t := range tp.groups[g] {
				zb.triangle(proj[tp.src[t[0]]], proj[tp.src[t[1]]], proj[tp.src[t[2]]])
			}
		}
	}
	tol := 0.4 * pose.Scale // 4 mm in pixels
	// Per vertex: projection and facing (cosine towards the camera) of the
	// vertex and of its mirror image across the midline (x → −x); a texel
	// interpolates them (the projection is affine, so this is exact for
	// positions).
	r := pose.Rotation
	facing := func(n [3]float64) float64 { return -(r[2][0]*n[0] + r[2][1]*n[1] + r[2][2]*n[2]) }
	projM := make([][3]float64, len(h.Posed))
	fac := make([]float64, len(h.Posed))
	facM := make([]float64, len(h.Posed))
	for i, v := range h.Posed {
		projM[i] = pose.Project([3]float64{-float64(v[0]), float64(v[1]), float64(v[2])}, W, H)
		n := normals[i]
		fac[i] = facing(n)
		facM[i] = facing([3]float64{-n[0], n[1], n[2]})
	}
	hullPts := convexHull(h.Fit.landmarks2D)
	hull := newHullRows(hullPts, H)
	dist := newHullDistance(newHullEdges(hullPts), hullPts)
	// Photo colours fade into the skin tone over featherCM inside the hull's
	// edge and as the surface turns away, so no hard seam is baked in.
	feather := featherCM * pose.Scale
	weight := func(q [3]float64, f float64) float64 {
		return smooth(f, minFacing, 0.6) * smooth(dist.at(q[0], q[1]), 0, feather)
	}
	blend := make([]float32, tw*th)
	visible := func(q [3]float64, f float64) bool {
		if f <= minFacing || q[0] < 0 || q[1] < 0 || q[0] >= float64(W) || q[1] >= float64(H) || !hull.inside(q[0], q[1]) {
			return false
		}
		return q[2] <= zb.at(q[0], q[1])+tol
	}

	out := image.NewNRGBA(image.Rect(0, 0, tw, th))
	const (
		empty = iota
		seen
		mirrored
		fill
	)
	state := make([]uint8, tw*th)
	var seenN, mirrN, faceN int
	// The back-head tile is one skin colour: filled whole after the face.
	for _, g := range []int{face} {
		if g < 0 {
			continue
		}
		for _, t := range tp.groups[g] {
			var uv [3][2]float64
			for k := range 3 {
				uv[k] = [2]float64{float64(tp.uv[t[k]][0]) * float64(tw), float64(tp.uv[t[k]][1]) * float64(th)}
			}
			s0, s1, s2 := tp.src[t[0]], tp.src[t[1]], tp.src[t[2]]
			// A triangle turned away both as itself and as its mirror image
			// (facing is linear across it) is skin fill: no per-texel tests.
			away := max(fac[s0], fac[s1], fac[s2]) <= minFacing && max(facM[s0], facM[s1], facM[s2]) <= minFacing
			rasterUV(uv, tw, th, func(x, y int, b [3]float64) {
				i := y*tw + x
				if state[i] != empty {
					return
				}
				state[i] = fill
				faceN++
				if away {
					return
				}
				var q [3]float64
				for a := range 3 {
					q[a] = b[0]*proj[s0][a] + b[1]*proj[s1][a] + b[2]*proj[s2][a]
				}
				if f := b[0]*fac[s0] + b[1]*fac[s1] + b[2]*fac[s2]; visible(q, f) {
					c := bilinear(img, q[0], q[1])
					wt := weight(q, f)
					blend[i] = float32(wt)
					c.A = max(1, uint8(math.Round(255*wt)))
					out.SetNRGBA(x, y, c)
					state[i] = seen
					seenN++
					return
				}
				for a := range 3 {
					q[a] = b[0]*projM[s0][a] + b[1]*projM[s1][a] + b[2]*projM[s2][a]
				}
				if fm := b[0]*facM[s0] + b[1]*facM[s1] + b[2]*facM[s2]; visible(q, fm) {
					c := bilinear(img, q[0], q[1])
					blend[i] = float32(weight(q, fm))
					c.A = 0
					out.SetNRGBA(x, y, c)
					state[i] = mirrored
					mirrN++
				}
			})
		}
	}
	skin := medianColour(out, state, seen)
	for i, wt := range blend {
		if s := state[i]; (s == seen || s == mirrored) && wt < 1 {
			o := 4 * i
			for k, sk := range [3]uint8{skin.R, skin.G, skin.B} {
				out.Pix[o+k] = uint8(float32(out.Pix[o+k])*wt + float32(sk)*(1-wt) + 0.5)
			}
		}
	}
	h.Iris = irisColour(img, h.Fit.Irises)
	for i, s := range state {
		if s == fill || (s == empty && i%tw >= TextureTile && back >= 0) {
			out.Pix[4*i], out.Pix[4*i+1], out.Pix[4*i+2], out.Pix[4*i+3] = skin.R, skin.G, skin.B, 0
			state[i] = fill
		}
	}
	dilate(out, state, 4)
	st := TextureStats{Skin: skin}
	if faceN > 0 {
		st.Seen, st.Mirrored = float64(seenN)/float64(faceN), float64(mirrN)/float64(faceN)
	}
	return out, st
}

func medianColour(img *image.NRGBA, state []uint8, want uint8) color.NRGBA {
	var hist [3][256]int
	n := 0
	for i, s := range state {
		if s == want && img.Pix[4*i+3] > 128 {
			for k := range 3 {
				hist[k][img.Pix[4*i+k]]++
			}
			n++
		}
	}
	if n == 0 {
		return color.NRGBA{200, 160, 140, 255}
	}
	var c [3]uint8
	for k := range 3 {
		acc := 0
		for v := range 256 {
			if acc += hist[k][v]; 2*acc >= n {
				c[k] = uint8(v)
				break
			}
		}
	}
	return color.NRGBA{c[0], c[1], c[2], 255}
}

// dilate spreads colours into texels outside every triangle (gutters),
// passes texels deep, so bilinear filtering at UV seams does not pull in
// black. Each pass only visits the previous pass's neighbours.
func dilate(img *image.NRGBA, state []uint8, passes int) {
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	var frontier []int
	for i, s := range state {
		if s != 0 {
			continue
		}
		x, y := i%w, i/w
		if (x > 0 && state[i-1] != 0) || (x+1 < w && state[i+1] != 0) || (y > 0 && state[i-w] != 0) || (y+1 < h && state[i+w] != 0) {
			frontier = append(frontier, i)
		}
	}
	for range passes {
		for _, i := range frontier {
			x, y := i%w, i/w
			for _, j := range [4]int{i - 1, i + 1, i - w, i + w} {
				if (j == i-1 && x == 0) || (j == i+1 && x+1 == w) || (j == i-w && y == 0) || (j == i+w && y+1 == h) {
					continue
				}
				if state[j] != 0 && state[j] != 254 {
					copy(img.Pix[4*i:4*i+3], img.Pix[4*j:4*j+3])
					break
				}
			}
		}
		for _, i := range frontier {
			state[i] = 254 // grown this pass: a source from the next
		}
		var next []int
		for _, i := range frontier {
			state[i] = 253
			x, y := i%w, i/w
			for _, j := range [4]int{i - 1, i + 1, i - w, i + w} {
				if (j == i-1 && x == 0) || (j == i+1 && x+1 == w) || (j == i-w && y == 0) || (j == i+w && y+1 == h) {
					continue
				}
				if state[j] == 0 {
					state[j] = 252
					next = append(next, j)
				}
			}
		}
		for _, j := range next {
			state[j] = 0
		}
		frontier = next
	}
}

func bilinear(img *image.NRGBA, x, y float64) color.NRGBA {
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	x, y = x-0.5, y-0.5
	x0, y0 := int(math.Floor(x)), int(math.Floor(y))
	fx, fy := x-float64(x0), y-float64(y0)
	var acc [3]float64
	for _, c := range [4]struct {
		dx, dy int
		w      float64
	}{{0, 0, (1 - fx) * (1 - fy)}, {1, 0, fx * (1 - fy)}, {0, 1, (1 - fx) * fy}, {1, 1, fx * fy}} {
		xx, yy := min(max(x0+c.dx, 0), w-1), min(max(y0+c.dy, 0), h-1)
		o := img.PixOffset(img.Bounds().Min.X+xx, img.Bounds().Min.Y+yy)
		for k := range 3 {
			acc[k] += c.w * float64(img.Pix[o+k])
		}
	}
	return color.NRGBA{uint8(acc[0] + 0.5), uint8(acc[1] + 0.5), uint8(acc[2] + 0.5), 255}
}

// rasterUV calls fn for every texel whose centre lies inside triangle uv
// (texel units), with its barycentric coordinates.
func rasterUV(uv [3][2]float64, w, h int, fn func(x, y int, b [3]float64)) {
	minX := int(math.Floor(math.Min(uv[0][0], math.Min(uv[1][0], uv[2][0]))))
	maxX := int(math.Ceil(math.Max(uv[0][0], math.Max(uv[1][0], uv[2][0]))))
	minY := int(math.Floor(math.Min(uv[0][1], math.Min(uv[1][1], uv[2][1]))))
	maxY := int(math.Ceil(math.Max(uv[0][1], math.Max(uv[1][1], uv[2][1]))))
	minX, minY, maxX, maxY = max(minX, 0), max(minY, 0), min(maxX, w-1), min(maxY, h-1)
	d := (uv[1][0]-uv[0][0])*(uv[2][1]-uv[0][1]) - (uv[2][0]-uv[0][0])*(uv[1][1]-uv[0][1])
	if math.Abs(d) < 1e-12 {
		return
	}
	for y := minY; y <= maxY; y++ {
		py := float64(y) + 0.5
		for x := minX; x <= maxX; x++ {
			px := float64(x) + 0.5
			b1 := ((px-uv[0][0])*(uv[2][1]-uv[0][1]) - (uv[2][0]-uv[0][0])*(py-uv[0][1])) / d
			b2 := ((uv[1][0]-uv[0][0])*(py-uv[0][1]) - (px-uv[0][0])*(uv[1][1]-uv[0][1])) / d
			b0 := 1 - b1 - b2
			const eps = -1e-9
			if b0 >= eps && b1 >= eps && b2 >= eps {
				fn(x, y, [3]float64{b0, b1, b2})
			}
		}
	}
}

// depth is an image-space z-buffer (smaller z = nearer) on a grid of at
// most ~768 cells across the head's projected box.
type depth struct {
	x0, y0, cell float64
	w, h         int
	z            []float32
}

func newDepth(proj [][3]float64, imgW, imgH int) *depth {
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, q := range proj {
		minX, minY = math.Min(minX, q[0]), math.Min(minY, q[1])
		maxX, maxY = math.Max(maxX, q[0]), math.Max(maxY, q[1])
	}
	minX, minY = math.Max(minX, 0), math.Max(minY, 0)
	maxX, maxY = math.Min(maxX, float64(imgW)), math.Min(maxY, float64(imgH))
	cell := math.Max(1, math.Max(maxX-minX, maxY-minY)/768)
	d := &depth{x0: minX, y0: minY, cell: cell, w: max(1, int((maxX-minX)/cell)+1), h: max(1, int((maxY-minY)/cell)+1)}
	d.z = make([]float32, d.w*d.h)
	for i := range d.z {
		d.z[i] = float32(math.Inf(1))
	}
	return d
}

func (d *depth) at(x, y float64) float64 {
	gx, gy := int((x-d.x0)/d.cell), int((y-d.y0)/d.cell)
	if gx < 0 || gy < 0 || gx >= d.w || gy >= d.h {
		return math.Inf(1)
	}
	return float64(d.z[gy*d.w+gx])
}

func (d *depth) triangle(a, b, c [3]float64) {
	uv := [3][2]float64{{(a[0] - d.x0) / d.cell, (a[1] - d.y0) / d.cell}, {(b[0] - d.x0) / d.cell, (b[1] - d.y0) / d.cell}, {(c[0] - d.x0) / d.cell, (c[1] - d.y0) / d.cell}}
	rasterUV(uv, d.w, d.h, func(x, y int, bc [3]float64) {
		z := float32(bc[0]*a[2] + bc[1]*b[2] + bc[2]*c[2])
		if i := y*d.w + x; z < d.z[i] {
			d.z[i] = z
		}
	})
}

// irisColour is the median colour inside the inner half of both irises
// (away from lids and the pupil's centre), or nil without irises.
func irisColour(img *image.NRGBA, irises [][3]float64) *color.NRGBA {
	var ch [3][]uint8
	b := img.Bounds()
	for _, ir := range irises {
		r := ir[2]
		for y := int(ir[1] - r); y <= int(ir[1]+r); y++ {
			for x := int(ir[0] - r); x <= int(ir[0]+r); x++ {
				d := math.Hypot(float64(x)+0.5-ir[0], float64(y)+0.5-ir[1])
				if d < 0.35*r || d > 0.75*r || !image.Pt(x, y).In(b) {
					continue
				}
				c := img.NRGBAAt(x, y)
				ch[0], ch[1], ch[2] = append(ch[0], c.R), append(ch[1], c.G), append(ch[2], c.B)
			}
		}
	}
	if len(ch[0]) < 4 {
		return nil
	}
	var c [3]uint8
	for k := range 3 {
		sort.Slice(ch[k], func(a, b int) bool { return ch[k][a] < ch[k][b] })
		c[k] = ch[k][len(ch[k])/2]
	}
	return &color.NRGBA{c[0], c[1], c[2], 255}
}

// convexHull is the convex hull of pts (Andrew's monotone chain), counter-
// clockwise in a y-down frame's mathematical orientation.
func convexHull(pts [][2]float64) [][2]float64 {
	p := append([][2]float64(nil), pts...)
	sort.Slice(p, func(i, j int) bool { return p[i][0] < p[j][0] || (p[i][0] == p[j][0] && p[i][1] < p[j][1]) })
	if len(p) < 3 {
		return p
	}
	cross := func(o, a, b [2]float64) float64 { return (a[0]-o[0])*(b[1]-o[1]) - (a[1]-o[1])*(b[0]-o[0]) }
	var h [][2]float64
	for _, pass := range []int{0, 1} {
		start := len(h)
		for k := range p {
			q := p[k]
			if pass == 1 {
				q = p[len(p)-1-k]
			}
			for len(h) >= start+2 && cross(h[len(h)-2], h[len(h)-1], q) <= 0 {
				h = h[:len(h)-1]
			}
			h = append(h, q)
		}
		h = h[:len(h)-1]
	}
	return h
}

// hullRows are a convex polygon's x-interval on every pixel row.
type hullRows struct{ lo, hi []float64 }

func newHullRows(h [][2]float64, rows int) hullRows {
	r := hullRows{lo: make([]float64, rows), hi: make([]float64, rows)}
	for y := range rows {
		r.lo[y], r.hi[y] = math.Inf(1), math.Inf(-1)
		py := float64(y) + 0.5
		for i := range h {
			a, b := h[i], h[(i+1)%len(h)]
			if (a[1] <= py) != (b[1] <= py) {
				x := a[0] + (py-a[1])/(b[1]-a[1])*(b[0]-a[0])
				r.lo[y], r.hi[y] = math.Min(r.lo[y], x), math.Max(r.hi[y], x)
			}
		}
	}
	return r
}

func (r hullRows) inside(x, y float64) bool {
	row := int(y)
	return row >= 0 && row < len(r.lo) && x >= r.lo[row] && x <= r.hi[row]
}

// hullEdges are the inward unit normals n and offsets c of a convex
// polygon's edges: n·p + c is the distance of p inside the edge's line.
type hullEdges [][3]float64

func newHullEdges(h [][2]float64) hullEdges {
	var e hullEdges
	for i := range h {
		a, b := h[i], h[(i+1)%len(h)]
		ex, ey := b[0]-a[0], b[1]-a[1]
		l := math.Hypot(ex, ey)
		if l == 0 {
			continue
		}
		nx, ny := -ey/l, ex/l
		e = append(e, [3]float64{nx, ny, -(nx*a[0] + ny*a[1])})
	}
	return e
}

// distance is how far (x, y) lies inside the polygon (0 outside).
func (e hullEdges) distance(x, y float64) float64 {
	d := math.Inf(1)
	for _, n := range e {
		v := n[0]*x + n[1]*y + n[2]
		if v <= 0 {
			return 0
		}
		d = min(d, v)
	}
	return d
}

// hullDistance samples a convex polygon's inside distance on a grid over its
// bounding box and interpolates bilinearly (the distance is piecewise
// linear, so the grid is exact but near the polygon's corners and medial
// lines, where a few pixels do not matter for feathering).
type hullDistance struct {
	x0, y0, cell float64
	n            int
	d            []float64
}

const hullGrid = 96

func newHullDistance(e hullEdges, h [][2]float64) hullDistance {
	if len(h) == 0 {
		return hullDistance{n: 0}
	}
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range h {
		minX, minY = math.Min(minX, p[0]), math.Min(minY, p[1])
		maxX, maxY = math.Max(maxX, p[0]), math.Max(maxY, p[1])
	}
	g := hullDistance{x0: minX, y0: minY, cell: math.Max(maxX-minX, maxY-minY) / hullGrid, n: hullGrid + 1}
	if !(g.cell > 0) {
		return hullDistance{n: 0}
	}
	g.d = make([]float64, g.n*g.n)
	for j := range g.n {
		for i := range g.n {
			g.d[j*g.n+i] = e.distance(g.x0+float64(i)*g.cell, g.y0+float64(j)*g.cell)
		}
	}
	return g
}

func (g hullDistance) at(x, y float64) float64 {
	if g.n == 0 {
		return 0
	}
	fx, fy := (x-g.x0)/g.cell, (y-g.y0)/g.cell
	if fx < 0 || fy < 0 || fx >= float64(g.n-1) || fy >= float64(g.n-1) {
		return 0
	}
	i, j := int(fx), int(fy)
	tx, ty := fx-float64(i), fy-float64(j)
	d := g.d[j*g.n+i:]
	return (1-ty)*((1-tx)*d[0]+tx*d[1]) + ty*((1-tx)*d[g.n]+tx*d[g.n+1])
}
