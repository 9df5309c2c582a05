package geometry

import (
	"image"
	"math"
)

// ZBuffer is a landmark mesh rasterised with a z-buffer on a grid over an
// image: grid cell (i, j) covers the image points with (x·Scale, y·Scale)
// in [i, i+1)×[j, j+1) and is sampled at its centre. The grid spans the
// bounding box of the mesh's vertices clipped to the image; Z and Tri are
// row-major over that box (W×H cells, the first at cell (X0, Y0)).
type ZBuffer struct {
	X0, Y0, W, H int     // box in grid cells
	Scale        float64 // grid cells per image pixel
	// Z is the nearest interpolated z per cell (+Inf where no triangle
	// covers the cell centre); Tri the index of the triangle that produced
	// it, or −1.
	Z   []float32
	Tri []int32

	zmin, zmax float32 // over covered cells
	covered    int
}

// Index returns the index into Z and Tri of the cell holding image point
// (x, y), or −1 when the point is outside the box.
func (r *ZBuffer) Index(x, y float64) int {
	gx, gy := x*r.Scale-float64(r.X0), y*r.Scale-float64(r.Y0)
	if !(gx >= 0 && gy >= 0 && gx < float64(r.W) && gy < float64(r.H)) {
		return -1
	}
	return int(gy)*r.W + int(gx)
}

// finite reports whether every coordinate of p is finite.
func finite(p [3]float32) bool {
	for _, c := range p {
		if math.IsNaN(float64(c)) || math.IsInf(float64(c), 0) {
			return false
		}
	}
	return true
}

// Rasterize z-buffers the triangles tris of the landmark mesh (image
// pixels, z on the scale of x, smaller = nearer) into a grid of scale cells
// per pixel over an imgW×imgH image (scale 1: one cell per pixel; a scale
// ≤ 0 counts as 1). A cell is inside a triangle when all barycentric
// weights at its centre are ≥ 0; the smaller interpolated z wins (on a tie
// the earlier triangle). Triangles with an index out of range or a non-finite
// vertex are skipped.
func Rasterize(lm [][3]float32, imgW, imgH int, tris [][3]uint16, scale float64) *ZBuffer {
	if !(scale > 0) || math.IsInf(scale, 0) {
		scale = 1
	}
	r := &ZBuffer{Scale: scale, zmin: float32(math.Inf(1)), zmax: float32(math.Inf(-1))}
	if imgW <= 0 || imgH <= 0 {
		return r
	}
	// Bounding box of the used, finite vertices.
	minX, minY := math.Inf(1), math.Inf(1)
	maxX, maxY := math.Inf(-1), math.Inf(-1)
	for _, t := range tris {
		for _, k := range t {
			if int(k) >= len(lm) || !finite(lm[k]) {
				continue
			}
			p := lm[k]
			minX, maxX = math.Min(minX, float64(p[0])), math.Max(maxX, float64(p[0]))
			minY, maxY = math.Min(minY, float64(p[1])), math.Max(maxY, float64(p[1]))
		}
	}
	if minX > maxX {
		return r
	}
	gw, gh := int(math.Ceil(float64(imgW)*scale)), int(math.Ceil(float64(imgH)*scale))
	x0, y0 := clampF(math.Floor(minX*scale), 0, gw), clampF(math.Floor(minY*scale), 0, gh)
	x1, y1 := clampF(math.Ceil(maxX*scale)+1, 0, gw), clampF(math.Ceil(maxY*scale)+1, 0, gh)
	if x1 <= x0 || y1 <= y0 {
		return r
	}
	r.X0, r.Y0, r.W, r.H = x0, y0, x1-x0, y1-y0
	r.Z = make([]float32, r.W*r.H)
	r.Tri = make([]int32, r.W*r.H)
	inf := float32(math.Inf(1))
	for i := range r.Z {
		r.Z[i] = inf
		r.Tri[i] = -1
	}
	for ti, t := range tris {
		if int(t[0]) >= len(lm) || int(t[1]) >= len(lm) || int(t[2]) >= len(lm) {
			continue
		}
		a, b, c := lm[t[0]], lm[t[1]], lm[t[2]]
		if !finite(a) || !finite(b) || !finite(c) {
			continue
		}
		r.fill(int32(ti), a, b, c)
	}
	return r
}

// rasterize is Rasterize at one cell per pixel with the depth range of the
// covered pixels, for the depth and normal maps.
func rasterize(lm [][3]float32, imgW, imgH int, tris [][3]uint16) *ZBuffer {
	r := Rasterize(lm, imgW, imgH, tris, 1)
	for i, t := range r.Tri {
		if t >= 0 {
			r.covered++
			// Plain comparisons: the builtin min/max handle NaN and are
			// several times slower here.
			z := r.Z[i]
			if z < r.zmin {
				r.zmin = z
			}
			if z > r.zmax {
				r.zmax = z
			}
		}
	}
	return r
}

// clampF clamps v to [lo, hi] before converting it, so huge or infinite
// coordinates never reach an int conversion.
func clampF(v float64, lo, hi int) int {
	if !(v > float64(lo)) { // also NaN
		return lo
	}
	if v > float64(hi) {
		return hi
	}
	return int(v)
}

// fill rasterises one triangle.
func (r *ZBuffer) fill(ti int32, a, b, c [3]float32) {
	sc := r.Scale
	ax, ay, bx, by, cx, cy := float64(a[0])*sc, float64(a[1])*sc, float64(b[0])*sc, float64(b[1])*sc, float64(c[0])*sc, float64(c[1])*sc
	area := (bx-ax)*(cy-ay) - (by-ay)*(cx-ax)
	if area == 0 || math.IsNaN(area) || math.IsInf(area, 0) {
		return
	}
	inv := 1 / area
	// Pixel centres i+0.5 inside [min, max].
	i0 := clampF(math.Ceil(min(ax, bx, cx)-0.5), r.X0, r.X0+r.W)
	i1 := clampF(math.Floor(max(ax, bx, cx)-0.5)+1, r.X0, r.X0+r.W)
	j0 := clampF(math.Ceil(min(ay, by, cy)-0.5), r.Y0, r.Y0+r.H)
	j1 := clampF(math.Floor(max(ay, by, cy)-0.5)+1, r.Y0, r.Y0+r.H)
	if i0 >= i1 || j0 >= j1 {
		return
	}
	// Barycentric weights are affine in the pixel position; step them along
	// each row.
	w0dx, w1dx := (by-cy)*inv, (cy-ay)*inv
	px0 := float64(i0) + 0.5
	za, zb, zc := float64(a[2]), float64(b[2]), float64(c[2])
	const eps = -1e-9
	for j := j0; j < j1; j++ {
		py := float64(j) + 0.5
		w0 := ((bx-px0)*(cy-py) - (by-py)*(cx-px0)) * inv
		w1 := ((cx-px0)*(ay-py) - (cy-py)*(ax-px0)) * inv
		row := (j-r.Y0)*r.W - r.X0
		for i := i0; i < i1; i++ {
			w2 := 1 - w0 - w1
			if w0 >= eps && w1 >= eps && w2 >= eps {
				z := float32(w0*za + w1*zb + w2*zc)
				if k := row + i; z < r.Z[k] {
					r.Z[k] = z
					r.Tri[k] = ti
				}
			}
			w0 += w0dx
			w1 += w1dx
		}
	}
}

// RenderDepth rasterises the landmark mesh (triangles tris over the
// landmarks, image pixels) with a z-buffer and returns its depth map: 0 is
// background, covered pixels run from 65535 (the nearest point of the face)
// down to 1 (the farthest visible point), linear in z and normalised to the
// face's own visible depth range. Triangles with an index out of range or a
// non-finite vertex are skipped.
func RenderDepth(landmarks [][3]float32, imgW, imgH int, tris [][3]uint16) *image.Gray16 {
	return rasterize(landmarks, imgW, imgH, tris).depth(imgW, imgH)
}

// RenderMaps returns what RenderDepth and RenderNormals return, from one
// rasterisation of the mesh instead of two.
func RenderMaps(landmarks [][3]float32, imgW, imgH int, tris [][3]uint16) (*image.Gray16, *image.NRGBA) {
	r := rasterize(landmarks, imgW, imgH, tris)
	return r.depth(imgW, imgH), r.normals(landmarks, imgW, imgH, tris)
}

// depth is RenderDepth's image from the z-buffer.
func (r *ZBuffer) depth(imgW, imgH int) *image.Gray16 {
	img := image.NewGray16(image.Rect(0, 0, max(imgW, 0), max(imgH, 0)))
	if r.covered == 0 {
		return img
	}
	span := float64(r.zmax) - float64(r.zmin)
	for y := range r.H {
		off := img.PixOffset(r.X0, r.Y0+y)
		for x := range r.W {
			k := y*r.W + x
			if r.Tri[k] < 0 {
				continue
			}
			v := uint16(65535)
			if span > 0 {
				v = uint16(1 + math.Round((float64(r.zmax)-float64(r.Z[k]))/span*65534))
			}
			img.Pix[off+2*x] = uint8(v >> 8)
			img.Pix[off+2*x+1] = uint8(v)
		}
	}
	return img
}

// RenderNormals rasterises the landmark mesh like RenderDepth and returns its
// normal map: area-weighted vertex normals of the landmark mesh, interpolated
// across each triangle and renormalised, expressed in view space (x right,
// y up, z towards the viewer) and encoded as (n+1)/2·255 in R, G, B with
// alpha 255; background pixels are transparent black.
func RenderNormals(landmarks [][3]float32, imgW, imgH int, tris [][3]uint16) *image.NRGBA {
	return rasterize(landmarks, imgW, imgH, tris).normals(landmarks, imgW, imgH, tris)
}

// normals is RenderNormals' image from the z-buffer of the same mesh.
func (r *ZBuffer) normals(landmarks [][3]float32, imgW, imgH int, tris [][3]uint16) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, max(imgW, 0), max(imgH, 0)))
	if r.covered == 0 {
		return img
	}
	// Normals in the camera frame (x right, y down, z forward); front faces
	// of the canonical winding point towards the camera (−z). Across a
	// triangle the interpolated normal is affine in the pixel position:
	// n(px, py) = gx·px + gy·py + g0, precomputed per triangle.
	nrm := vertexNormals(landmarks, tris, [3]float32{0, 0, -1})
	grads := make([][3][3]float64, len(tris))
	for ti, t := range tris {
		if int(t[0]) >= len(landmarks) || int(t[1]) >= len(landmarks) || int(t[2]) >= len(landmarks) {
			continue // never rasterised
		}
		grads[ti] = normalGradient(landmarks[t[0]], landmarks[t[1]], landmarks[t[2]], nrm[t[0]], nrm[t[1]], nrm[t[2]])
	}
	for y := range r.H {
		py := float64(r.Y0+y) + 0.5
		off := img.PixOffset(r.X0, r.Y0+y)
		for x := range r.W {
			ti := r.Tri[y*r.W+x]
			if ti < 0 {
				continue
			}
			g := &grads[ti]
			px := float64(r.X0+x) + 0.5
			n := [3]float64{
				g[0][0]*px + g[1][0]*py + g[2][0],
				g[0][1]*px + g[1][1]*py + g[2][1],
				g[0][2]*px + g[1][2]*py + g[2][2],
			}
			l := math.Sqrt(n[0]*n[0] + n[1]*n[1] + n[2]*n[2])
			if !(l > 1e-12) {
				n, l = [3]float64{0, 0, -1}, 1
			}
			inv := 1 / l
			// Camera frame → view space: flip y and z.
			o := img.Pix[off+4*x : off+4*x+4 : off+4*x+4]
			o[0] = encodeUnit(n[0] * inv)
			o[1] = encodeUnit(-n[1] * inv)
			o[2] = encodeUnit(-n[2] * inv)
			o[3] = 255
		}
	}
	return img
}

// normalGradient returns g with n(px, py) = g[0]·px + g[1]·py + g[2], the
// barycentric interpolation of the vertex normals na, nb, nc over the
// triangle a, b, c in image space.
func normalGradient(a, b, c [3]float32, na, nb, nc [3]float32) [3][3]float64 {
	ax, ay, bx, by, cx, cy := float64(a[0]), float64(a[1]), float64(b[0]), float64(b[1]), float64(c[0]), float64(c[1])
	inv := 1 / ((bx-ax)*(cy-ay) - (by-ay)*(cx-ax))
	// w0 = ((bx−px)(cy−py) − (by−py)(cx−px))·inv, w1 likewise; w2 = 1−w0−w1.
	w0x, w0y, w0c := (by-cy)*inv, (cx-bx)*inv, (bx*cy-by*cx)*inv
	w1x, w1y, w1c := (cy-ay)*inv, (ax-cx)*inv, (cx*ay-cy*ax)*inv
	var g [3][3]float64
	for k := range 3 {
		da, db, dc := float64(na[k]-nc[k]), float64(nb[k]-nc[k]), float64(nc[k])
		g[0][k] = w0x*da + w1x*db
		g[1][k] = w0y*da + w1y*db
		g[2][k] = w0c*da + w1c*db + dc
	}
	return g
}

// encodeUnit maps [−1, 1] to [0, 255].
func encodeUnit(v float64) uint8 {
	f := (v+1)*127.5 + 0.5
	if !(f > 0) {
		return 0
	}
	if f >= 255 {
		return 255
	}
	return uint8(f)
}
