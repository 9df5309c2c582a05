package ict

import "math"

// Vec3 helpers (float64) shared by the correspondence derivation.
type vec3 = [3]float64

func sub(a, b vec3) vec3         { return vec3{a[0] - b[0], a[1] - b[1], a[2] - b[2]} }
func add(a, b vec3) vec3         { return vec3{a[0] + b[0], a[1] + b[1], a[2] + b[2]} }
func scl(a vec3, s float64) vec3 { return vec3{a[0] * s, a[1] * s, a[2] * s} }
func dot(a, b vec3) float64      { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }

// Similarity is x ↦ Scale·Rotation·x + Translation.
type Similarity struct {
	Scale       float64
	Rotation    [3][3]float64
	Translation [3]float64
}

// Apply maps x.
func (s Similarity) Apply(x [3]float64) [3]float64 {
	var r vec3
	for i := range 3 {
		r[i] = s.Scale*(s.Rotation[i][0]*x[0]+s.Rotation[i][1]*x[1]+s.Rotation[i][2]*x[2]) + s.Translation[i]
	}
	return r
}

// FitSimilarity returns the weighted least-squares similarity mapping src onto
// dst (Horn's closed form with unit quaternions; w nil = uniform weights).
// It needs at least three non-collinear points with positive weight.
func FitSimilarity(src, dst [][3]float64, w []float64) Similarity {
	var ws float64
	var ca, cb vec3
	for i := range src {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		ws += wi
		ca = add(ca, scl(src[i], wi))
		cb = add(cb, scl(dst[i], wi))
	}
	ca, cb = scl(ca, 1/ws), scl(cb, 1/ws)
	var m [3][3]float64
	var va float64
	for i := range src {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		a, b := sub(src[i], ca), sub(dst[i], cb)
		va += wi * dot(a, a)
		for r := range 3 {
			for c := range 3 {
				m[r][c] += wi * a[r] * b[c]
			}
		}
	}
	sxx, sxy, sxz := m[0][0], m[0][1], m[0][2]
	syx, syy, syz := m[1][0], m[1][1], m[1][2]
	szx, szy, szz := m[2][0], m[2][1], m[2][2]
	n := [4][4]float64{
		{sxx + syy + szz, syz - szy, szx - sxz, sxy - syx},
		{syz - szy, sxx - syy - szz, sxy + syx, szx + sxz},
		{szx - sxz, sxy + syx, -sxx + syy - szz, syz + szy},
		{sxy - syx, szx + sxz, syz + szy, -sxx - syy + szz},
	}
	q := topEigenvector4(n)
	rot := quatToMat(q)
	var num float64
	for i := range src {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		a, b := sub(src[i], ca), sub(dst[i], cb)
		num += wi * dot(b, mulMat(rot, a))
	}
	s := num / va
	return Similarity{Scale: s, Rotation: rot, Translation: sub(cb, scl(mulMat(rot, ca), s))}
}

func mulMat(m [3][3]float64, x vec3) vec3 {
	return vec3{dot(m[0], x), dot(m[1], x), dot(m[2], x)}
}

func quatToMat(q [4]float64) [3][3]float64 {
	w, x, y, z := q[0], q[1], q[2], q[3]
	return [3][3]float64{
		{w*w + x*x - y*y - z*z, 2 * (x*y - w*z), 2 * (x*z + w*y)},
		{2 * (x*y + w*z), w*w - x*x + y*y - z*z, 2 * (y*z - w*x)},
		{2 * (x*z - w*y), 2 * (y*z + w*x), w*w - x*x - y*y + z*z},
	}
}

// topEigenvector4 returns the unit eigenvector of the largest eigenvalue of a
// symmetric 4×4 matrix (cyclic Jacobi).
func topEigenvector4(a [4][4]float64) [4]float64 {
	v := [4][4]float64{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}
	for sweep := 0; sweep < 50; sweep++ {
		var off float64
		for p := range 4 {
			for q := p + 1; q < 4; q++ {
				off += a[p][q] * a[p][q]
			}
		}
		if off < 1e-30 {
			break
		}
		for p := range 4 {
			for q := p + 1; q < 4; q++ {
				if math.Abs(a[p][q]) < 1e-300 {
					continue
				}
				theta := (a[q][q] - a[p][p]) / (2 * a[p][q])
				t := 1 / (math.Abs(theta) + math.Sqrt(theta*theta+1))
				if theta < 0 {
					t = -t
				}
				c := 1 / math.Sqrt(t*t+1)
				s := t * c
				for k := range 4 {
					akp, akq := a[k][p], a[k][q]
					a[k][p], a[k][q] = c*akp-s*akq, s*akp+c*akq
				}
				for k := range 4 {
					apk, aqk := a[p][k], a[q][k]
					a[p][k], a[q][k] = c*apk-s*aqk, s*apk+c*aqk
				}
				for k := range 4 {
					vkp, vkq := v[k][p], v[k][q]
					v[k][p], v[k][q] = c*vkp-s*vkq, s*vkp+c*vkq
				}
			}
		}
	}
	best := 0
	for i := 1; i < 4; i++ {
		if a[i][i] > a[best][best] {
			best = i
		}
	}
	q := [4]float64{v[0][best], v[1][best], v[2][best], v[3][best]}
	if q[0] < 0 || (q[0] == 0 && q[1] < 0) {
		for i := range q {
			q[i] = -q[i]
		}
	}
	return q
}

// ClosestOnTriangle returns the barycentric coordinates of the point of
// triangle (a, b, c) nearest to p (Ericson, Real-Time Collision Detection 5.1.5).
func ClosestOnTriangle(p, a, b, c vec3) [3]float64 {
	ab, ac, ap := sub(b, a), sub(c, a), sub(p, a)
	d1, d2 := dot(ab, ap), dot(ac, ap)
	if d1 <= 0 && d2 <= 0 {
		return [3]float64{1, 0, 0}
	}
	bp := sub(p, b)
	d3, d4 := dot(ab, bp), dot(ac, bp)
	if d3 >= 0 && d4 <= d3 {
		return [3]float64{0, 1, 0}
	}
	vc := d1*d4 - d3*d2
	if vc <= 0 && d1 >= 0 && d3 <= 0 {
		v := d1 / (d1 - d3)
		return [3]float64{1 - v, v, 0}
	}
	cp := sub(p, c)
	d5, d6 := dot(ab, cp), dot(ac, cp)
	if d6 >= 0 && d5 <= d6 {
		return [3]float64{0, 0, 1}
	}
	vb := d5*d2 - d1*d6
	if vb <= 0 && d2 >= 0 && d6 <= 0 {
		w := d2 / (d2 - d6)
		return [3]float64{1 - w, 0, w}
	}
	va := d3*d6 - d5*d4
	if va <= 0 && d4-d3 >= 0 && d5-d6 >= 0 {
		w := (d4 - d3) / ((d4 - d3) + (d5 - d6))
		return [3]float64{0, 1 - w, w}
	}
	den := 1 / (va + vb + vc)
	v, w := vb*den, vc*den
	return [3]float64{1 - v - w, v, w}
}

// SolveSPD solves the symmetric positive definite system A·x = b in place by
// Cholesky (A is n×n row-major and is overwritten). It reports false when A
// is not positive definite.
func SolveSPD(a []float64, b []float64, n int) bool {
	for j := range n {
		s := a[j*n+j]
		for k := range j {
			s -= a[j*n+k] * a[j*n+k]
		}
		if !(s > 0) {
			return false
		}
		d := math.Sqrt(s)
		a[j*n+j] = d
		for i := j + 1; i < n; i++ {
			s := a[i*n+j]
			for k := range j {
				s -= a[i*n+k] * a[j*n+k]
			}
			a[i*n+j] = s / d
		}
	}
	for i := range n {
		s := b[i]
		for k := range i {
			s -= a[i*n+k] * b[k]
		}
		b[i] = s / a[i*n+i]
	}
	for i := n - 1; i >= 0; i-- {
		s := b[i]
		for k := i + 1; k < n; k++ {
			s -= a[k*n+i] * b[k]
		}
		b[i] = s / a[i*n+i]
	}
	return true
}
