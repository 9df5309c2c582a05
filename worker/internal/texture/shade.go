package texture

import (
	"image"
	"math"
	"slices"
	"sync"

	"github.com/facefleet/facefleet/worker/internal/geometry"
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
	// os, ms: the triangles the own and the mirrored sample lie on.
	os, ms side
	// ownOK: the own triangle can be sampled (it faces the camera, or it is
	// a small fold among triangles that do); mirOK: likewise its mirror.
	ownOK, mirOK bool
	// blend: both sides can be sampled and somewhere in the triangle the
	// own side is seen at a grazing angle while the mirror is not, so the
	// geometric own weight may be below 1.
	blend bool
	// step: one texel column's step of the own and the mirrored sample
	// position (x, y) in sampleFix's fixed point.
	step [4]int64
	// seen: the own side is sampled and visible at every point of the
	// triangle, and nothing is blended (visibility.seesAll): classify
	// needs no per-texel test.
	seen bool
}

// side is the triangle a sample lies on, for the visibility test.
type side struct {
	v  [3]uint16 // its vertices
	id uint16    // its index, or noTri when no mesh triangle has them
	// fold: the side is sampled although it faces away (a fold among
	// well-seen triangles), so whatever nearer surface covers it — the lip
	// or nostril around it — is what it shows.
	fold bool
}

// noTri marks a side without a mesh triangle.
const noTri = math.MaxUint16

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
	pix []uint8
	// maxXFix, maxYFix: w − 1, h − 1, where sampleFix clamps, in its 32.32
	// fixed point.
	maxXFix, maxYFix int64
	stride           int
	w, h             int
	minX, minY       float64
	tris             []triFrame
	vis              visibility
	backFacing       int
	seam             seamParams

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
	// cellOf is the layout's texel coordinate → coarse cell table.
	cellOf  []uint16
	scratch *scratch // pooled buffers: tris, vis.tri (release)
	// codes holds, while shade runs, a texel code (scan.go) per texel
	// inside the layout: texel (i, j) at codeRow[j] + i.
	codes   []uint8
	codeRow []int32
	codeLen int
}

func newFrame(img *image.NRGBA, lm [][3]float32, lay *layout, seam seamParams) *frame {
	md := lay.mesh
	sc, _ := scratchPool.Get().(*scratch)
	if sc == nil {
		sc = new(scratch)
	}
	sc.tris = grown(sc.tris, len(md.tris))
	clear(sc.tris)
	f := &frame{
		scratch: sc,
		pix:     img.Pix, stride: img.Stride,
		w: img.Rect.Dx(), h: img.Rect.Dy(),
		maxXFix: int64(img.Rect.Dx()-1) << 32, maxYFix: int64(img.Rect.Dy()-1) << 32,
		minX: float64(img.Rect.Min.X), minY: float64(img.Rect.Min.Y),
		tris: sc.tris,
		seam: seam,
		cell: lay.cell, cells: lay.cells,
		seed:  make([]uint8, lay.cells*lay.cells),
		holes: make([]uint16, lay.cells*lay.cells),

		lerpIdx: lay.lerpIdx, lerpT: lay.lerpT, cellOf: lay.cellOf,
		codeRow: lay.codeRow, codeLen: lay.codeLen,
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
	f.vis = newVisibility(lm, mesh, usable, f.w, f.h, f.minX, f.minY, sc)
	s := 1 / float64(lay.size)
	for t := range md.tris {
		tu := md.tris[t]
		if !tu.ok {
			continue
		}
		tf := &f.tris[t]
		tf.ownOK = usable[t]
		tf.own = texelAffine(tu, s, lm, q, mesh[t], f.minX, f.minY)
		tf.os = side{v: mesh[t], id: uint16(t), fold: usable[t] && !front[t]}
		if mt := md.mirror[t]; mt >= 0 && usable[mt] {
			mv := md.mirrorVert[t]
			tf.mirOK = true
			tf.mir = texelAffine(tu, s, lm, q, mv, f.minX, f.minY)
			tf.ms = side{v: mv, id: uint16(mt), fold: !front[mt]}
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
	for t := range f.tris {
		tf := &f.tris[t]
		tf.step = [4]int64{fixStep(tf.own.ax), fixStep(tf.own.ay), fixStep(tf.mir.ax), fixStep(tf.mir.ay)}
		if tf.ownOK && !tf.blend && lay.texels[t] > 0 {
			var p [3][2]float64
			for c, k := range mesh[t] {
				p[c] = [2]float64{float64(lm[k][0]) - f.minX, float64(lm[k][1]) - f.minY}
			}
			tf.seen = f.vis.seesAll(p, &tf.os, int(lay.texels[t]))
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

// sample writes the bilinearly filtered colour at (x, y) (pixel i covers
// [i, i+1)) into dst with alpha 255, clamped at the image's border
// (sampleFix).
func (f *frame) sample(dst []uint8, x, y float64) {
	f.sampleFix(dst, fixPos(x), fixPos(y))
}

// visibility answers whether a point of the face is what the photo shows
// there. It is the landmark mesh z-buffered in image space
// (geometry.Rasterize of the triangles that can be seen — facing the
// camera, or folds — on a grid of at most visRes cells a side over the
// landmarks' box) plus, per cell, how far inside the mesh's silhouette the
// cell lies.
//
// A point of the surface (image-local x, y; depth z; on a triangle s) is
// visible when
//   - its cell lies inside the silhouette (the projected mesh's outline)
//     and not among the margin cells along it: near the outline, landmark
//     error and the photo's own blur put background, hair or neck under
//     the sample;
//   - and it is the front-most surface there: the cell's nearest triangle
//     is its own or shares a vertex with it (the same piece of surface), or
//     is nearer by at most eps, one cell's worth of depth (grid slack).
//
// Anything else in front of it — the nose before a turned cheek, the cheek
// before the far side of the nose — hides it: unlike a plain depth test
// with a tolerance, a point just behind the occluding contour is hidden
// too. Folds (see triFrame) are only tested against the silhouette.
type visibility struct {
	// The grid: cell (i, j) covers image-local points with
	// (x·sc − x0, y·sc − y0) in [i, i+1)×[j, j+1).
	x0, y0, sc float64
	w, h       int
	// tri is each cell's nearest triangle, or cellHidden for the cells
	// outside the silhouette or within its margin; z is the nearest depth
	// (the z-buffer's own).
	tri    []uint16
	z      []float32
	verts  [][3]uint16 // the mesh's triangles
	margin uint8
	eps    float32
}

// cellHidden marks a visibility cell no sample may come from. Meshes have
// fewer triangles (newMeshData), so it is no triangle's index, nor noTri.
const cellHidden = math.MaxUint16 - 1

// visRes is the longest side of the visibility grid in cells: faces up to
// visRes pixels get one cell per pixel (BenchmarkUnwrap1024: 512 cost more
// than the old, looser depth test saved).
const visRes = 384

// silhouetteMargin is the band along the silhouette's outline whose
// samples are rejected, as a fraction of the face's extent (its landmarks'
// longer box side), at least one cell: the photo's anti-aliased edge and
// the landmarks' error put background, hair or neck there.
const silhouetteMargin = 0.003

// turnMargin and turnFree widen the silhouette margin for turned faces:
// by turnMargin × the face's extent per share of triangles facing away
// beyond turnFree (a frontal face has a few folds and edge-on triangles).
// Turned 50° (a fifth of the triangles away) the margin is about 1% of the
// face: in TestGroundTruthTexture it halves the background the landmark
// model's error lets in at 35–50°, and a wider one costs more fidelity
// (visible texels mirrored or left empty) than it saves.
const (
	turnMargin = 0.04
	turnFree   = 0.02
)

func newVisibility(lm [][3]float32, tris [][3]uint16, use []bool, w, h int, minX, minY float64, buf *scratch) visibility {
	bx0, by0 := math.Inf(1), math.Inf(1)
	bx1, by1 := math.Inf(-1), math.Inf(-1)
	local := make([][3]float32, len(lm))
	for i, p := range lm {
		x, y := float64(p[0])-minX, float64(p[1])-minY
		local[i] = [3]float32{float32(x), float32(y), p[2]}
		bx0, bx1 = math.Min(bx0, x), math.Max(bx1, x)
		by0, by1 = math.Min(by0, y), math.Max(by1, y)
	}
	ext := math.Max(bx1-bx0, by1-by0)
	sc := 1.0
	if ext > visRes {
		sc = visRes / ext
	}
	// The triangles that can be seen (facing the camera, or folds): on a
	// face, a triangle facing away is never in front of one that does.
	var sub [][3]uint16
	var ids []uint16
	for t, ok := range use {
		if ok {
			sub = append(sub, tris[t])
			ids = append(ids, uint16(t))
		}
	}
	zb := geometry.Rasterize(local, w, h, sub, sc)
	v := visibility{x0: float64(zb.X0), y0: float64(zb.Y0), sc: sc, w: zb.W, h: zb.H, verts: tris}
	// The landmarks' error along the outline grows as the face turns away
	// (the nose profile and the far contour are where the landmark model is
	// least sure), and so does the margin: by turnMargin per share of
	// triangles facing away beyond turnFree.
	away := 0
	for _, ok := range use {
		if !ok {
			away++
		}
	}
	turn := max(0, float64(away)/float64(max(len(use), 1))-turnFree)
	v.margin = uint8(min(max(1, math.Round((silhouetteMargin+turnMargin*turn)*ext*sc)), 60))
	// One cell at a slope of 1 (z on x's scale): the grid's own slack.
	v.eps = float32(1 / sc)
	v.z = zb.Z
	// Every cell is set here or hidden by insideDistance (an uncovered
	// cell is at distance 0), so a pooled array needs no clearing.
	buf.cells = grown(buf.cells, v.w*v.h)
	v.tri = buf.cells
	for k, t := range zb.Tri {
		if t >= 0 {
			v.tri[k] = ids[t]
		}
	}
	insideDistance(v.tri, zb.Tri, v.w, v.h, v.margin, buf)
	return v
}

// scratch holds a frame's larger buffers for the next Unwrap (release):
// without it each 1024² unwrap allocates about 0.65 MB more.
type scratch struct {
	tris    []triFrame
	cells   []uint16 // visibility.tri
	chamfer []uint8  // insideDistance's grid
}

var scratchPool sync.Pool

// release returns f's buffers to the pool; f must not be used afterwards.
func (f *frame) release() {
	if f.scratch != nil {
		scratchPool.Put(f.scratch)
		f.scratch, f.tris, f.vis.tri = nil, nil, nil
	}
}

// grown is s resliced to n elements, or a new slice where s holds fewer.
func grown[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// insideDistance sets cells[k] to cellHidden where the two-pass 3-4
// chamfer distance from cell k to the nearest uncovered cell (tri < 0) or
// the grid's border is at most margin (≤ 60) whole cells: uncovered cells,
// the outline (distance 1) and the margin's band inside it.
func insideDistance(cells []uint16, tri []int32, w, h int, margin uint8, buf *scratch) {
	if w == 0 || h == 0 {
		return
	}
	limit := margin + 1
	// d is the grid with a border of zeros (outside), in thirds of a cell.
	pw := w + 2
	buf.chamfer = grown(buf.chamfer, pw*(h+2))
	d := buf.chamfer
	clear(d)
	capD := 3 * limit
	for y := range h {
		row := d[(y+1)*pw+1 : (y+1)*pw+1+w]
		for x, t := range tri[y*w : (y+1)*w] {
			if t >= 0 {
				row[x] = capD
			}
		}
	}
	for y := 1; y <= h; y++ {
		up, row := d[(y-1)*pw:y*pw], d[y*pw:(y+1)*pw]
		for x := 1; x <= w; x++ {
			if v := row[x]; v != 0 {
				row[x] = min(v, row[x-1]+3, up[x]+3, up[x-1]+4, up[x+1]+4)
			}
		}
	}
	for y := h; y >= 1; y-- {
		row, down := d[y*pw:(y+1)*pw], d[(y+1)*pw:(y+2)*pw]
		for x := w; x >= 1; x-- {
			if v := row[x]; v != 0 {
				row[x] = min(v, row[x+1]+3, down[x]+3, down[x+1]+4, down[x-1]+4)
			}
		}
	}
	for y := range h {
		row := d[(y+1)*pw+1 : (y+1)*pw+1+w]
		out := cells[y*w : (y+1)*w]
		for x, v := range row {
			if v/3 <= margin {
				out[x] = cellHidden
			}
		}
	}
}

// visible reports whether the surface point (x, y, z) (image-local x, y) on
// triangle s is what the photo shows there; a fold is only tested against
// the silhouette.
func (v *visibility) visible(x, y, z float64, s *side) bool {
	k := v.cell(x, y)
	return k >= 0 && v.sees(k, z, s)
}

// cell returns the index of the grid cell of image-local (x, y) when it
// lies inside the silhouette beyond its margin, else −1. A point less
// than a cell left of or above the grid truncates into its first column
// or row, whose cells are on the outline anyway. (Small enough to inline:
// visible's hot path.)
func (v *visibility) cell(x, y float64) int {
	i, j := int(x*v.sc-v.x0), int(y*v.sc-v.y0)
	if uint(i) >= uint(v.w) || uint(j) >= uint(v.h) {
		return -1
	}
	if k := j*v.w + i; v.tri[k] != cellHidden {
		return k
	}
	return -1
}

// seesAll reports whether every point of the triangle p (image-local
// vertices) on side s is visible without a depth test: every grid cell the
// triangle overlaps lies inside the silhouette beyond its margin and shows
// s or a triangle sharing a vertex with it (or s is a fold). It is
// conservative: a triangle partly off the grid, or degenerate, is not.
// Testing its cells pays only where they are fewer than its texels (the
// per-texel test in classify costs about what a cell's here does): with
// fewer than seesAllTexels texels per cell of its box it reports false.
func (v *visibility) seesAll(p [3][2]float64, s *side, texels int) bool {
	var g [3][2]float64
	for c := range p {
		g[c] = [2]float64{p[c][0]*v.sc - v.x0, p[c][1]*v.sc - v.y0}
	}
	// A margin of 1e-4 cells over the floating-point error of the texel
	// positions.
	const tol = 1e-4
	minX, maxX := min(g[0][0], g[1][0], g[2][0])-tol, max(g[0][0], g[1][0], g[2][0])+tol
	minY, maxY := min(g[0][1], g[1][1], g[2][1])-tol, max(g[0][1], g[1][1], g[2][1])+tol
	if !(minX >= 0 && minY >= 0 && maxX < float64(v.w) && maxY < float64(v.h)) {
		return false
	}
	if (maxX-minX+1)*(maxY-minY+1)*seesAllTexels > float64(texels) {
		return false
	}
	area := (g[1][0]-g[0][0])*(g[2][1]-g[0][1]) - (g[1][1]-g[0][1])*(g[2][0]-g[0][0])
	if area == 0 {
		return false
	}
	sign := math.Copysign(1, area)
	// Edge functions e(x, y) = a·x + b·y + c, ≥ 0 inside; over a cell
	// square their largest value is at its centre plus (|a| + |b|)/2, so
	// a cell overlaps when a·cx + b·cy ≥ lim for all three edges.
	var a, b, lim [3]float64
	for c := range 3 {
		p0, p1 := g[c], g[(c+1)%3]
		a[c], b[c] = -(p1[1]-p0[1])*sign, (p1[0]-p0[0])*sign
		lim[c] = a[c]*p0[0] + b[c]*p0[1] - (math.Abs(a[c])+math.Abs(b[c]))/2 - tol*math.Hypot(a[c], b[c])
	}
	i0, i1 := int(minX), int(maxX)
	for j := int(minY); j <= int(maxY); j++ {
		cy := float64(j) + 0.5
		// Along the row each edge function is affine in cx: start at the
		// first cell and step.
		cx0 := float64(i0) + 0.5
		e0, e1, e2 := a[0]*cx0+b[0]*cy-lim[0], a[1]*cx0+b[1]*cy-lim[1], a[2]*cx0+b[2]*cy-lim[2]
		row := v.tri[j*v.w : (j+1)*v.w]
		for i := i0; i <= i1; i, e0, e1, e2 = i+1, e0+a[0], e1+a[1], e2+a[2] {
			if e0 < 0 || e1 < 0 || e2 < 0 {
				continue
			}
			if t := row[i]; t == cellHidden || !s.fold && t != s.id && !v.touches(j*v.w+i, s) {
				return false
			}
		}
	}
	return true
}

// seesAllTexels is the fewest texels per cell of a triangle's box for
// which seesAll tests the cells (BenchmarkStages: at 1024² the frame's
// cost grows by what classify saves at about 2).
const seesAllTexels = 2

// touches reports whether cell k shows s or a triangle sharing a vertex
// with it.
func (v *visibility) touches(k int, s *side) bool {
	if v.tri[k] == s.id {
		return true
	}
	u, tv := &v.verts[v.tri[k]], &s.v
	return u[0] == tv[0] || u[0] == tv[1] || u[0] == tv[2] ||
		u[1] == tv[0] || u[1] == tv[1] || u[1] == tv[2] ||
		u[2] == tv[0] || u[2] == tv[1] || u[2] == tv[2]
}

// sees reports whether a point at depth z on triangle s is the surface
// cell k (from cell) shows.
func (v *visibility) sees(k int, z float64, s *side) bool {
	return v.tri[k] == s.id || v.front(k, z, s)
}

// front reports whether a point at depth z on triangle s is the surface
// cell k shows, k's nearest triangle being another one.
func (v *visibility) front(k int, z float64, s *side) bool {
	return s.fold || v.touches(k, s) || float32(z) <= v.z[k]+v.eps
}
