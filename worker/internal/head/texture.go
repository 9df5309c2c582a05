package head

import (
	"image"
	"image/color"
	"math"
	"sort"
	"sync"
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

// bakeTable is what the bake needs of ICT's UV layout, which does not
// depend on the fit: every face-tile texel that a face triangle covers, as
// row spans owned by one triangle (the first in file order that covers the
// texel centre), and per triangle the affine map from texel coordinates to
// its barycentrics. Built once per process, shared read-only.
type bakeTable struct {
	tris [][3]uint32 // the face group's triangles (output vertex indices)
	// spans of triangle t are spans[first[t]:first[t+1]].
	spans []bakeSpan
	first []int32
	// bary[t] maps a texel (x, y) (its index, centre at +0.5) to
	// b1 = bary[0] + bary[1]·x + bary[2]·y and b2 = bary[3] + bary[4]·x + bary[5]·y.
	bary [][6]float64
	// covered is the number of face-tile texels the spans hold.
	covered int
	// texels[t] is the number of texels triangle t owns.
	texels []int32
	// verts are the ICT vertices of the face triangles.
	verts []int32
	// gutter is the dilation of the atlas (see dilatePlan): which texels
	// outside every triangle copy which neighbour's colour, in order. The
	// covered texels do not depend on the fit, so neither does this.
	gutter [][2]int32
}

type bakeSpan struct {
	y, x0, n uint16
}

var loadBakeTable = sync.OnceValue(func() *bakeTable {
	tp := loadTopology()
	tw, th := 2*TextureTile, TextureTile
	bt := &bakeTable{}
	for g, name := range tp.m.Materials {
		if name == matFace {
			bt.tris = tp.groups[g]
		}
	}
	owner := make([]int32, TextureTile*th) // the face tile is the atlas's left half
	for i := range owner {
		owner[i] = -1
	}
	bt.bary = make([][6]float64, len(bt.tris))
	for t, tri := range bt.tris {
		var uv [3][2]float64
		for k := range 3 {
			uv[k] = [2]float64{float64(tp.uv[tri[k]][0]) * float64(tw), float64(tp.uv[tri[k]][1]) * float64(th)}
		}
		d := (uv[1][0]-uv[0][0])*(uv[2][1]-uv[0][1]) - (uv[2][0]-uv[0][0])*(uv[1][1]-uv[0][1])
		if math.Abs(d) >= 1e-12 {
			// rasterUV's barycentrics as affine functions of the texel index.
			e1x, e1y := (uv[2][1]-uv[0][1])/d, -(uv[2][0]-uv[0][0])/d
			e2x, e2y := -(uv[1][1]-uv[0][1])/d, (uv[1][0]-uv[0][0])/d
			c1 := (0.5-uv[0][0])*e1x + (0.5-uv[0][1])*e1y
			c2 := (0.5-uv[0][0])*e2x + (0.5-uv[0][1])*e2y
			bt.bary[t] = [6]float64{c1, e1x, e1y, c2, e2x, e2y}
		}
		rasterUV(uv, TextureTile, th, func(x, y int, _ [3]float64) {
			if i := y*TextureTile + x; owner[i] < 0 {
				owner[i] = int32(t)
			}
		})
	}
	per := make([][]bakeSpan, len(bt.tris))
	for y := range th {
		row := owner[y*TextureTile : (y+1)*TextureTile]
		for x := 0; x < TextureTile; {
			o := row[x]
			x1 := x + 1
			for x1 < TextureTile && row[x1] == o {
				x1++
			}
			if o >= 0 {
				per[o] = append(per[o], bakeSpan{y: uint16(y), x0: uint16(x), n: uint16(x1 - x)})
			}
			x = x1
		}
	}
	bt.first = make([]int32, len(bt.tris)+1)
	for t, sp := range per {
		bt.first[t] = int32(len(bt.spans))
		bt.spans = append(bt.spans, sp...)
	}
	bt.first[len(bt.tris)] = int32(len(bt.spans))
	used := make([]bool, len(tp.m.Neutral))
	for _, tri := range bt.tris {
		for _, k := range tri {
			if v := tp.src[k]; !used[v] {
				used[v] = true
				bt.verts = append(bt.verts, v)
			}
		}
	}
	bt.texels = make([]int32, len(bt.tris))
	for t := range bt.tris {
		for _, sp := range bt.spans[bt.first[t]:bt.first[t+1]] {
			bt.texels[t] += int32(sp.n)
		}
	}
	// The texels the bake writes: the face triangles' spans and, when the
	// model has the back-head material, the whole right tile.
	state := make([]uint8, tw*th)
	for _, sp := range bt.spans {
		o := int(sp.y)*tw + int(sp.x0)
		for i := o; i < o+int(sp.n); i++ {
			state[i] = texFill
		}
		bt.covered += int(sp.n)
	}
	for _, name := range tp.m.Materials {
		if name != matBackHead {
			continue
		}
		for y := range th {
			for x := TextureTile; x < tw; x++ {
				state[y*tw+x] = texFill
			}
		}
	}
	bt.gutter = dilatePlan(state, tw, th, 4)
	return bt
})

// vq are the quantities a texel interpolates: photo x, y, z and facing, then
// the same of its mirror image, then the photo weights of the two (the
// weights only where a whole triangle is seen: see BakeTexture).
type vq [10]float64

func (a vq) add(b vq) vq {
	for c := range a {
		a[c] += b[c]
	}
	return a
}

// texFill marks a texel the bake writes (dilatePlan's state).
const texFill = 3

// BakeTexture bakes the photo into ICT's UV layout for the posed head: a
// face-tile texel the camera sees (depth-tested, facing the camera, inside
// the convex hull of the face's landmarks, so no background or hair beyond
// the face is baked in) takes the
// photo's colour and alpha = how squarely it faced the camera; an unseen
// texel whose mirror image across the face's midline is seen takes that
// colour (alpha 0); everything else, the back of the head and the neck
// included, is the skin tone (the median seen colour, alpha 0).
//
// The per-texel work walks the precomputed spans of bakeTable: every
// quantity a texel interpolates (its photo position, facing, and those of
// its mirror image) is affine across a triangle, so a span steps it by a
// constant per texel.
func (h *Head) BakeTexture(img *image.NRGBA) (*image.NRGBA, TextureStats) {
	tp := loadTopology()
	bt := loadBakeTable()
	m := tp.m
	W, H := img.Bounds().Dx(), img.Bounds().Dy()
	tw, th := 2*TextureTile, TextureTile
	pose := h.Fit.Pose
	nv := len(h.Posed)
	proj := make([][3]float64, nv)
	for i, v := range h.Posed {
		proj[i] = pose.Project([3]float64{float64(v[0]), float64(v[1]), float64(v[2])}, W, H)
	}
	normals := vertexNormals(h.Posed, m)
	r := pose.Rotation
	facing := func(n [3]float64) float64 { return -(r[2][0]*n[0] + r[2][1]*n[1] + r[2][2]*n[2]) }
	zb := newDepth(proj, W, H, depthCellCM*pose.Scale)
	back := -1
	for g, name := range m.Materials {
		if name == matBackHead {
			back = g
		}
		if name != matFace && name != matBackHead {
			continue
		}
		for _, t := range tp.groups[g] {
			a, b, c := proj[tp.src[t[0]]], proj[tp.src[t[1]]], proj[tp.src[t[2]]]
			// A triangle turned away from the camera is never the nearest
			// surface of the closed head: skip it.
			if n0, n1, n2 := normals[tp.src[t[0]]], normals[tp.src[t[1]]], normals[tp.src[t[2]]]; facing(n0) < 0 && facing(n1) < 0 && facing(n2) < 0 {
				continue
			}
			zb.triangle(a, b, c)
		}
	}
	tol := 0.4 * pose.Scale // 4 mm in pixels
	// Per vertex: projection and facing (cosine towards the camera) of the
	// vertex and of its mirror image across the midline (x → −x); a texel
	// interpolates them (the projection is affine, so this is exact for
	// positions).
	vals := make([]vq, nv)
	hullPts := convexHull(h.Fit.landmarks2D)
	hull := newHullRows(hullPts, H)
	dist := newHullDistance(newHullEdges(hullPts), hullPts)
	hx0, hy0, hx1, hy1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range hullPts {
		hx0, hy0, hx1, hy1 = math.Min(hx0, p[0]), math.Min(hy0, p[1]), math.Max(hx1, p[0]), math.Max(hy1, p[1])
	}
	// Photo colours fade into the skin tone over featherCM inside the hull's
	// edge and as the surface turns away, so no hard seam is baked in.
	feather := featherCM * pose.Scale
	fw, fh := float64(W), float64(H)
	visible := func(x, y, z, f float64) bool {
		if f <= minFacing || x < 0 || y < 0 || x >= fw || y >= fh || !hull.inside(x, y) {
			return false
		}
		return z <= zb.at(x, y)+tol
	}

	weight := func(x, y, f float64) float64 {
		return smooth(f, minFacing, 0.6) * smooth(dist.at(x, y), 0, feather)
	}
	// Per vertex: the interpolated quantities and whether the vertex is
	// seen directly (bit 0) and as a mirror image (bit 1).
	vis := make([]uint8, nv)
	for _, i := range bt.verts {
		v := h.Posed[i]
		qm := pose.Project([3]float64{-float64(v[0]), float64(v[1]), float64(v[2])}, W, H)
		n := normals[i]
		e := vq{proj[i][0], proj[i][1], proj[i][2], facing(n), qm[0], qm[1], qm[2], facing([3]float64{-n[0], n[1], n[2]})}
		if visible(e[0], e[1], e[2], e[3]) {
			vis[i] |= 1
			e[8] = 255 * weight(e[0], e[1], e[3])
		}
		if visible(e[4], e[5], e[6], e[7]) {
			vis[i] |= 2
			e[9] = 255 * weight(e[4], e[5], e[7])
		}
		vals[i] = e
	}
	// The skin tone: the median photo colour of the face tile's seen
	// texels of weight > ½, each triangle seen whole sampled at its centre
	// for all its texels (the texels first, so the bake is one pass).
	var hist [3][256]int
	for t, tri := range bt.tris {
		s0, s1, s2 := tp.src[tri[0]], tp.src[tri[1]], tp.src[tri[2]]
		if vis[s0]&vis[s1]&vis[s2]&1 == 0 {
			continue
		}
		v0, v1, v2 := &vals[s0], &vals[s1], &vals[s2]
		if v0[8]+v1[8]+v2[8] <= 3*128 {
			continue
		}
		c := bilinear(img, (v0[0]+v1[0]+v2[0])/3, (v0[1]+v1[1]+v2[1])/3)
		n := int(bt.texels[t])
		hist[0][c.R] += n
		hist[1][c.G] += n
		hist[2][c.B] += n
	}
	skin := medianColour(&hist)
	sk := [3]uint32{uint32(skin.R), uint32(skin.G), uint32(skin.B)}
	out := image.NewNRGBA(image.Rect(0, 0, tw, th))
	pix := out.Pix
	// A photo colour fades into the skin tone by its weight wt (× 255); a
	// seen texel's alpha is wt (at least 1), a mirrored one's 0.
	blended := func(p []uint8, c color.NRGBA, wt uint8) {
		w := uint32(wt)
		p[0] = uint8((uint32(c.R)*w + sk[0]*(255-w) + 127) / 255)
		p[1] = uint8((uint32(c.G)*w + sk[1]*(255-w) + 127) / 255)
		p[2] = uint8((uint32(c.B)*w + sk[2]*(255-w) + 127) / 255)
	}
	seenPix := func(i int, c color.NRGBA, wt uint8) {
		p := pix[4*i : 4*i+4 : 4*i+4]
		blended(p, c, wt)
		p[3] = max(1, wt)
	}
	mirrPix := func(i int, c color.NRGBA, wt uint8) {
		blended(pix[4*i:4*i+3:4*i+3], c, wt)
	}
	fillPix := func(i int) {
		p := pix[4*i : 4*i+3 : 4*i+3]
		p[0], p[1], p[2] = skin.R, skin.G, skin.B
	}
	var seenN, mirrN int
	for t, tri := range bt.tris {
		sp := bt.spans[bt.first[t]:bt.first[t+1]]
		if len(sp) == 0 {
			continue
		}
		s0, s1, s2 := tp.src[tri[0]], tp.src[tri[1]], tp.src[tri[2]]
		v0, v1, v2 := &vals[s0], &vals[s1], &vals[s2]
		// A triangle whose three corners are seen is seen whole (facing is
		// affine across it and the hull and image convex; an occluder would
		// have to cut between its corners, a few texels apart): its texels
		// interpolate the corners' weights and skip the per-texel tests.
		// One whose corners are all unseen directly and all seen mirrored
		// is mirrored whole; one where neither lookup can succeed anywhere
		// (its corners bound position and facing), or whose corners are all
		// unseen both ways, is skin fill. The rest test every texel.
		all := vis[s0] & vis[s1] & vis[s2]
		anyDirect := (vis[s0]|vis[s1]|vis[s2])&1 != 0
		mode := 0 // per-texel
		switch {
		case all&1 != 0:
			mode = 1
		case !anyDirect && all&2 != 0:
			mode = 2
		}
		direct := max(v0[3], v1[3], v2[3]) > minFacing && !(max(v0[0], v1[0], v2[0]) < hx0 || min(v0[0], v1[0], v2[0]) > hx1 || max(v0[1], v1[1], v2[1]) < hy0 || min(v0[1], v1[1], v2[1]) > hy1)
		mirror := max(v0[7], v1[7], v2[7]) > minFacing && !(max(v0[4], v1[4], v2[4]) < hx0 || min(v0[4], v1[4], v2[4]) > hx1 || max(v0[5], v1[5], v2[5]) < hy0 || min(v0[5], v1[5], v2[5]) > hy1)
		if mode == 0 && (vis[s0]|vis[s1]|vis[s2]) == 0 {
			// No corner seen either way: skin fill whole (as a triangle
			// seen at every corner is seen whole).
			direct, mirror = false, false
		}
		if mode == 0 && !direct && !mirror {
			for _, s := range sp {
				o := int(s.y)*tw + int(s.x0)
				for i := o; i < o+int(s.n); i++ {
					fillPix(i)
				}
			}
			continue
		}
		// Each interpolated quantity is e = base + ex·x + ey·y.
		ab := &bt.bary[t]
		var base, ex, ey vq
		for c := range len(base) {
			d1, d2 := v1[c]-v0[c], v2[c]-v0[c]
			base[c] = v0[c] + d1*ab[0] + d2*ab[3]
			ex[c] = d1*ab[1] + d2*ab[4]
			ey[c] = d1*ab[2] + d2*ab[5]
		}
		for _, s := range sp {
			y := float64(s.y)
			var e vq
			for c := range len(e) {
				e[c] = base[c] + ex[c]*float64(s.x0) + ey[c]*y
			}
			row := int(s.y) * tw
			x0, x1 := int(s.x0), int(s.x0)+int(s.n)
			switch mode {
			case 1:
				qx, qy, w := e[0], e[1], e[8]
				for x := x0; x < x1; x++ {
					seenPix(row+x, bilinear(img, qx, qy), uint8(w+0.5))
					qx, qy, w = qx+ex[0], qy+ex[1], w+ex[8]
				}
				seenN += x1 - x0
				continue
			case 2:
				qx, qy, w := e[4], e[5], e[9]
				for x := x0; x < x1; x++ {
					mirrPix(row+x, bilinear(img, qx, qy), uint8(w+0.5))
					qx, qy, w = qx+ex[4], qy+ex[5], w+ex[9]
				}
				mirrN += x1 - x0
				continue
			}
			for x := x0; x < x1; x, e = x+1, e.add(ex) {
				i := row + x
				if direct && visible(e[0], e[1], e[2], e[3]) {
					seenPix(i, bilinear(img, e[0], e[1]), uint8(math.Round(255*weight(e[0], e[1], e[3]))))
					seenN++
					continue
				}
				if mirror && visible(e[4], e[5], e[6], e[7]) {
					mirrPix(i, bilinear(img, e[4], e[5]), uint8(math.Round(255*weight(e[4], e[5], e[7]))))
					mirrN++
					continue
				}
				fillPix(i)
			}
		}
	}
	h.Iris = irisColour(img, h.Fit.Irises)
	if back >= 0 {
		// The back-head tile is one skin colour (alpha 0).
		row := pix[4*TextureTile : 4*tw]
		for x := 0; x < len(row); x += 4 {
			row[x], row[x+1], row[x+2], row[x+3] = skin.R, skin.G, skin.B, 0
		}
		for y := 1; y < th; y++ {
			copy(pix[4*(y*tw+TextureTile):4*(y+1)*tw], row)
		}
	}
	for _, g := range bt.gutter {
		copy(pix[4*g[0]:4*g[0]+3], pix[4*g[1]:4*g[1]+3])
	}
	st := TextureStats{Skin: skin}
	if bt.covered > 0 {
		st.Seen, st.Mirrored = float64(seenN)/float64(bt.covered), float64(mirrN)/float64(bt.covered)
	}
	return out, st
}

// medianColour is the per-channel median of a histogram (a default skin
// tone when it is empty).
func medianColour(hist *[3][256]int) color.NRGBA {
	n := 0
	for _, c := range hist[0] {
		n += c
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

// dilatePlan plans the dilation that spreads colours into texels outside
// every triangle (gutters), passes texels deep, so bilinear filtering at UV
// seams does not pull in black: state marks the written texels (non-zero);
// each pass grows onto the previous pass's neighbours, every new texel
// copying its first written neighbour (left, right, up, down). The plan is
// the (texel, source) pairs in the order they are to be copied.
func dilatePlan(state []uint8, w, h, passes int) [][2]int32 {
	var plan [][2]int32
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
					plan = append(plan, [2]int32{int32(i), int32(j)})
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
	return plan
}

func bilinear(img *image.NRGBA, x, y float64) color.NRGBA {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	x, y = x-0.5, y-0.5
	if x >= 0 && y >= 0 && x < float64(w-1) && y < float64(h-1) {
		// Inside: the four texels without clamping, 8-bit fixed-point weights.
		ix, iy := int(x*256), int(y*256)
		x0, y0, fx, fy := ix>>8, iy>>8, uint32(ix&255), uint32(iy&255)
		o := img.PixOffset(b.Min.X+x0, b.Min.Y+y0)
		p0 := img.Pix[o : o+8 : o+8]
		p1 := img.Pix[o+img.Stride : o+img.Stride+8 : o+img.Stride+8]
		var c [3]uint8
		for k := range 3 {
			top := uint32(p0[k])*(256-fx) + uint32(p0[4+k])*fx
			bot := uint32(p1[k])*(256-fx) + uint32(p1[4+k])*fx
			c[k] = uint8((top*(256-fy) + bot*fy + 1<<15) >> 16)
		}
		return color.NRGBA{c[0], c[1], c[2], 255}
	}
	x0, y0 := int(math.Floor(x)), int(math.Floor(y))
	fx, fy := x-float64(x0), y-float64(y0)
	var acc [3]float64
	for _, c := range [4]struct {
		dx, dy int
		w      float64
	}{{0, 0, (1 - fx) * (1 - fy)}, {1, 0, fx * (1 - fy)}, {0, 1, (1 - fx) * fy}, {1, 1, fx * fy}} {
		xx, yy := min(max(x0+c.dx, 0), w-1), min(max(y0+c.dy, 0), h-1)
		o := img.PixOffset(b.Min.X+xx, b.Min.Y+yy)
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

// depthCellCM is the finest cell of the bake's depth buffer on the face (cm):
// much finer than its 4 mm depth tolerance, coarser than a large photo's
// pixels (a 1024-pixel face would otherwise rasterise ~600k cells).
const depthCellCM = 0.05

// depth is an image-space z-buffer (smaller z = nearer) on a grid of at
// most ~768 cells across the head's projected box, cells at least minCell
// pixels (and one pixel) wide.
type depth struct {
	x0, y0, cell float64
	w, h         int
	z            []float32
}

func newDepth(proj [][3]float64, imgW, imgH int, minCell float64) *depth {
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, q := range proj {
		minX, minY = math.Min(minX, q[0]), math.Min(minY, q[1])
		maxX, maxY = math.Max(maxX, q[0]), math.Max(maxY, q[1])
	}
	minX, minY = math.Max(minX, 0), math.Max(minY, 0)
	maxX, maxY = math.Min(maxX, float64(imgW)), math.Min(maxY, float64(imgH))
	cell := math.Max(math.Max(1, minCell), math.Max(maxX-minX, maxY-minY)/768)
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
	// Cell coordinates; cell centres at +0.5 (rasterUV's convention).
	ax, ay := (a[0]-d.x0)/d.cell, (a[1]-d.y0)/d.cell
	bx, by := (b[0]-d.x0)/d.cell, (b[1]-d.y0)/d.cell
	cx, cy := (c[0]-d.x0)/d.cell, (c[1]-d.y0)/d.cell
	den := (bx-ax)*(cy-ay) - (cx-ax)*(by-ay)
	if math.Abs(den) < 1e-12 {
		return
	}
	minX, maxX := max(int(math.Floor(min(ax, bx, cx))), 0), min(int(math.Ceil(max(ax, bx, cx))), d.w-1)
	minY, maxY := max(int(math.Floor(min(ay, by, cy))), 0), min(int(math.Ceil(max(ay, by, cy))), d.h-1)
	// Barycentrics b1, b2 and z are affine in the cell centre (px, py).
	e1x, e1y := (cy-ay)/den, -(cx-ax)/den
	e2x, e2y := -(by-ay)/den, (bx-ax)/den
	const eps = -1e-9
	for y := minY; y <= maxY; y++ {
		py := float64(y) + 0.5 - ay
		px := float64(minX) + 0.5 - ax
		b1 := px*e1x + py*e1y
		b2 := px*e2x + py*e2y
		row := d.z[y*d.w : (y+1)*d.w]
		for x := minX; x <= maxX; x, b1, b2 = x+1, b1+e1x, b2+e2x {
			if b1 >= eps && b2 >= eps && 1-b1-b2 >= eps {
				z := float32(a[2] + b1*(b[2]-a[2]) + b2*(c[2]-a[2]))
				if z < row[x] {
					row[x] = z
				}
			}
		}
	}
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
