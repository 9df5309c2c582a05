package texture

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/facefleet/facefleet/models/facemesh"
)

// span is a run of texels [x0, x1) in row y that all lie in triangle tri.
type span struct {
	y, x0, x1, tri uint16
}

// meshData is what Unwrap derives from the mesh alone.
type meshData struct {
	verts [][3]uint16 // the mesh's triangles
	tris  []triUV
	// mirror[t] is the triangle whose vertices are Mirror of t's vertices, or -1.
	mirror []int32
	// mirrorVert[t] holds Mirror of t's vertices, in t's vertex order.
	mirrorVert [][3]uint16
	// fanUV[v] is the UV-space area of the triangles around vertex v.
	fanUV []float64
}

// triUV holds a triangle's barycentrics as affine functions of (u, v):
// b1 = a1*u + b1u*v + c1 and so on, and the sign of its UV-space area.
type triUV struct {
	a1, bb1, c1 float64
	a2, bb2, c2 float64
	// sign is +1 or -1: the orientation (y down) a triangle must have in the
	// photo to face the camera. The UV layout is the face seen from the
	// front with v down, so a front-facing triangle keeps its UV winding.
	sign float64
	area float64 // |area| in UV units
	ok   bool    // false for a triangle degenerate in UV space
}

// layout is the texel → triangle map of one mesh at one size.
type layout struct {
	mesh   *meshData
	size   int
	spans  []span  // sorted by row, then x
	inside int     // texels covered by a triangle
	texels []int32 // texels per triangle
	// A texel code (scan.go) of texel (i, j) inside the layout is at
	// codeRow[j] + i in a buffer of codeLen bytes: each row keeps the
	// columns from its first to its last texel inside, after a lead of
	// size bytes (so that codeRow[j] ≥ 0).
	codeRow []int32
	codeLen int
	// cell is the side in texels of the coarse grid the seam feather is
	// computed on; cells is its side in cells.
	cell, cells int
	cellInside  []uint16 // texels inside the layout per cell
	// A texel coordinate i lies between the cell centres lerpIdx[i] and
	// lerpIdx[i]+1 (clamped at the borders) at fraction lerpT[i].
	lerpIdx []uint16
	lerpT   []float32
	// cellOf[i] is i / cell: the cell of texel coordinate i.
	cellOf []uint16
	// edge holds the texels (y*size + x) outside the layout that touch it
	// (8-neighbourhood): where the gutter starts.
	edge []int32
}

// meshCache holds the derived data of one mesh and its layouts per size.
type meshCache struct {
	data   func() (*meshData, error)
	sizes  sync.Map // int → func() (*layout, error)
	cached atomic.Int32
}

// MaxCachedSizes bounds the UV sizes whose layout a mesh keeps: a job may
// ask for any of 3841 sizes, and a 4096² layout holds megabytes. Past the
// bound a size's layout is built for its call and dropped.
const MaxCachedSizes = 8

// caches maps *facemesh.Mesh → *meshCache. It is the package's only state:
// layouts depend on nothing but the mesh and the size, and computing one per
// call would cost more than the unwrap itself. A mesh must not be modified
// after it was first passed to Unwrap.
var caches sync.Map

func layoutFor(m *facemesh.Mesh, size int) (*layout, error) {
	v, ok := caches.Load(m)
	if !ok {
		v, _ = caches.LoadOrStore(m, &meshCache{data: sync.OnceValues(func() (*meshData, error) { return newMeshData(m) })})
	}
	mc := v.(*meshCache)
	md, err := mc.data()
	if err != nil {
		return nil, err
	}
	f, ok := mc.sizes.Load(size)
	if !ok {
		if mc.cached.Add(1) > MaxCachedSizes {
			mc.cached.Add(-1)
			return newLayout(m, md, size), nil
		}
		var loaded bool
		f, loaded = mc.sizes.LoadOrStore(size, sync.OnceValues(func() (*layout, error) { return newLayout(m, md, size), nil }))
		if loaded { // another call stored this size first
			mc.cached.Add(-1)
		}
	}
	return f.(func() (*layout, error))()
}

func newMeshData(m *facemesh.Mesh) (*meshData, error) {
	n := len(m.UV)
	if len(m.Triangles) >= cellHidden { // triangle ids stay below cellHidden and noTri
		return nil, fmt.Errorf("%w: %d triangles", ErrInvalidInput, len(m.Triangles))
	}
	md := &meshData{
		verts:      append([][3]uint16(nil), m.Triangles...),
		tris:       make([]triUV, len(m.Triangles)),
		mirror:     make([]int32, len(m.Triangles)),
		mirrorVert: make([][3]uint16, len(m.Triangles)),
		fanUV:      make([]float64, n),
	}
	byVerts := make(map[[3]uint16]int32, len(m.Triangles))
	for t, tri := range m.Triangles {
		for _, k := range tri {
			if int(k) >= n || m.Mirror[k] < 0 || m.Mirror[k] >= n {
				return nil, fmt.Errorf("%w: triangle %d has vertex %d outside the mesh", ErrInvalidInput, t, k)
			}
		}
		byVerts[sorted3(tri)] = int32(t)
	}
	for t, tri := range m.Triangles {
		p0, p1, p2 := m.UV[tri[0]], m.UV[tri[1]], m.UV[tri[2]]
		d1x, d1y := float64(p1[0]-p0[0]), float64(p1[1]-p0[1])
		d2x, d2y := float64(p2[0]-p0[0]), float64(p2[1]-p0[1])
		det := d1x*d2y - d1y*d2x
		var tu triUV
		if det != 0 {
			x0, y0 := float64(p0[0]), float64(p0[1])
			tu = triUV{
				a1: d2y / det, bb1: -d2x / det, c1: -(x0*d2y - y0*d2x) / det,
				a2: -d1y / det, bb2: d1x / det, c2: -(d1x*y0 - d1y*x0) / det,
				sign: math.Copysign(1, det), area: math.Abs(det) / 2, ok: true,
			}
		}
		md.tris[t] = tu
		for _, k := range tri {
			md.fanUV[k] += tu.area
		}
		mv := [3]uint16{uint16(m.Mirror[tri[0]]), uint16(m.Mirror[tri[1]]), uint16(m.Mirror[tri[2]])}
		md.mirrorVert[t] = mv
		if mt, ok := byVerts[sorted3(mv)]; ok {
			md.mirror[t] = mt
		} else {
			md.mirror[t] = -1
		}
	}
	return md, nil
}

func sorted3(t [3]uint16) [3]uint16 {
	if t[0] > t[1] {
		t[0], t[1] = t[1], t[0]
	}
	if t[1] > t[2] {
		t[1], t[2] = t[2], t[1]
	}
	if t[0] > t[1] {
		t[0], t[1] = t[1], t[0]
	}
	return t
}

// newLayout rasterises every triangle in UV space: a texel belongs to the
// triangle that contains its centre ((i+0.5)/size, (j+0.5)/size); texels on
// a shared edge go to the later triangle.
func newLayout(m *facemesh.Mesh, md *meshData, size int) *layout {
	owner := make([]int32, size*size)
	for i := range owner {
		owner[i] = -1
	}
	fs := float64(size)
	for t, tri := range m.Triangles {
		tu := md.tris[t]
		if !tu.ok {
			continue
		}
		minU, maxU := math.Inf(1), math.Inf(-1)
		minV, maxV := math.Inf(1), math.Inf(-1)
		for _, k := range tri {
			u, v := float64(m.UV[k][0]), float64(m.UV[k][1])
			minU, maxU = math.Min(minU, u), math.Max(maxU, u)
			minV, maxV = math.Min(minV, v), math.Max(maxV, v)
		}
		i0, i1 := clampInt(int(math.Floor(minU*fs-0.5)), 0, size-1), clampInt(int(math.Ceil(maxU*fs-0.5)), 0, size-1)
		j0, j1 := clampInt(int(math.Floor(minV*fs-0.5)), 0, size-1), clampInt(int(math.Ceil(maxV*fs-0.5)), 0, size-1)
		const eps = -1e-9
		for j := j0; j <= j1; j++ {
			v := (float64(j) + 0.5) / fs
			for i := i0; i <= i1; i++ {
				u := (float64(i) + 0.5) / fs
				b1 := tu.a1*u + tu.bb1*v + tu.c1
				b2 := tu.a2*u + tu.bb2*v + tu.c2
				if b1 >= eps && b2 >= eps && 1-b1-b2 >= eps {
					owner[j*size+i] = int32(t)
				}
			}
		}
	}
	lay := &layout{mesh: md, size: size, cell: cellSize(size), texels: make([]int32, len(m.Triangles))}
	lay.cells = (size + lay.cell - 1) / lay.cell
	lay.edge = layoutEdge(owner, size)
	lay.lerpIdx, lay.lerpT = make([]uint16, size), make([]float32, size)
	lay.cellOf = make([]uint16, size)
	for i := range size {
		lay.cellOf[i] = uint16(i / lay.cell)
		g := min(max((float64(i)+0.5)/float64(lay.cell)-0.5, 0), float64(lay.cells-1))
		lay.lerpIdx[i] = uint16(g)
		lay.lerpT[i] = float32(g - math.Floor(g))
	}
	lay.cellInside = make([]uint16, lay.cells*lay.cells)
	for i, t := range owner {
		if t >= 0 {
			lay.cellInside[i/size/lay.cell*lay.cells+i%size/lay.cell]++
		}
	}
	for j := range size {
		row := owner[j*size : (j+1)*size]
		for i := 0; i < size; {
			t := row[i]
			k := i + 1
			for k < size && row[k] == t {
				k++
			}
			if t >= 0 {
				lay.spans = append(lay.spans, span{y: uint16(j), x0: uint16(i), x1: uint16(k), tri: uint16(t)})
				lay.inside += k - i
				lay.texels[t] += int32(k - i)
			}
			i = k
		}
	}
	lay.codeRow = make([]int32, size)
	lay.codeLen = size
	for k := 0; k < len(lay.spans); {
		j, lo := lay.spans[k].y, int(lay.spans[k].x0)
		for k < len(lay.spans) && lay.spans[k].y == j {
			k++
		}
		hi := int(lay.spans[k-1].x1)
		lay.codeRow[j] = int32(lay.codeLen - lo)
		lay.codeLen += hi - lo
	}
	return lay
}

// cellSize is the side in texels of the coarse seam grid at a texture size:
// about 128 cells a side.
func cellSize(size int) int { return max(1, size/128) }

// gutterWidth is how many texels the colour is dilated out of the valid
// texels at a texture size: 2 up to 512, size/256 above, at most 8.
func gutterWidth(size int) int { return min(max(2, size/256), 8) }

// layoutEdge returns the texels outside the layout (owner < 0) with an
// 8-neighbour inside it.
func layoutEdge(owner []int32, size int) []int32 {
	var edge []int32
	for y := range size {
		for x := range size {
			if i := y*size + x; owner[i] < 0 && insideNeighbour(owner, size, x, y) {
				edge = append(edge, int32(i))
			}
		}
	}
	return edge
}

// insideNeighbour reports whether one of the 8 neighbours of (x, y) is
// inside the layout.
func insideNeighbour(owner []int32, size, x, y int) bool {
	for dy := -1; dy <= 1; dy++ {
		for dx := -1; dx <= 1; dx++ {
			nx, ny := x+dx, y+dy
			if (dx != 0 || dy != 0) && nx >= 0 && ny >= 0 && nx < size && ny < size && owner[ny*size+nx] >= 0 {
				return true
			}
		}
	}
	return false
}

// splitSpans cuts spans into n parts of about equal texel counts, only
// before rows that are a multiple of align (so no coarse cell row is shared
// by two parts).
func splitSpans(spans []span, inside, n, align int) [][]span {
	out := make([][]span, 0, n)
	target := (inside + n - 1) / n
	start, acc := 0, 0
	for k := range spans {
		acc += int(spans[k].x1 - spans[k].x0)
		if acc >= target && len(out) < n-1 && (k+1 == len(spans) || spans[k+1].y != spans[k].y && int(spans[k+1].y)%align == 0) {
			out = append(out, spans[start:k+1])
			start, acc = k+1, 0
		}
	}
	return append(out, spans[start:])
}

func clampInt(v, lo, hi int) int {
	return max(lo, min(v, hi))
}
