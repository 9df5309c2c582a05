package geometry

import "math"

// mat3 is a row-major 3×3 matrix.
type mat3 [3][3]float64

func identity3() mat3 { return mat3{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}} }

func (a mat3) mul(b mat3) mat3 {
	var c mat3
	for i := range 3 {
		for j := range 3 {
			c[i][j] = a[i][0]*b[0][j] + a[i][1]*b[1][j] + a[i][2]*b[2][j]
		}
	}
	return c
}

func (a mat3) transpose() mat3 {
	return mat3{
		{a[0][0], a[1][0], a[2][0]},
		{a[0][1], a[1][1], a[2][1]},
		{a[0][2], a[1][2], a[2][2]},
	}
}

func (a mat3) apply(v [3]float64) [3]float64 {
	return [3]float64{
		a[0][0]*v[0] + a[0][1]*v[1] + a[0][2]*v[2],
		a[1][0]*v[0] + a[1][1]*v[1] + a[1][2]*v[2],
		a[2][0]*v[0] + a[2][1]*v[1] + a[2][2]*v[2],
	}
}

func (a mat3) det() float64 {
	return a[0][0]*(a[1][1]*a[2][2]-a[1][2]*a[2][1]) -
		a[0][1]*(a[1][0]*a[2][2]-a[1][2]*a[2][0]) +
		a[0][2]*(a[1][0]*a[2][1]-a[1][1]*a[2][0])
}

func (a mat3) col(j int) [3]float64 { return [3]float64{a[0][j], a[1][j], a[2][j]} }

func (a *mat3) setCol(j int, v [3]float64) { a[0][j], a[1][j], a[2][j] = v[0], v[1], v[2] }

func dot3(a, b [3]float64) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }

func cross3(a, b [3]float64) [3]float64 {
	return [3]float64{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}

func scale3(a [3]float64, s float64) [3]float64 { return [3]float64{a[0] * s, a[1] * s, a[2] * s} }

func sub3(a, b [3]float64) [3]float64 { return [3]float64{a[0] - b[0], a[1] - b[1], a[2] - b[2]} }

func norm3(a [3]float64) float64 { return math.Sqrt(dot3(a, a)) }

// rankTol is the relative size below which a singular value counts as zero.
const rankTol = 1e-9

// svd3 computes A = U·diag(S)·Vᵀ with one-sided (Hestenes) Jacobi rotations:
// the columns of A·V are orthogonalised by plane rotations accumulated in V,
// then S are their norms and U their directions. S is sorted descending and
// U, V are orthogonal (not necessarily proper rotations). rank is the number
// of singular values above rankTol·S[0]; for rank 2 the third column of U is
// completed as U₀×U₁, for rank < 2 U is only partially meaningful.
func svd3(a mat3) (u mat3, s [3]float64, v mat3, rank int) {
	w := a
	v = identity3()
	for range 64 {
		rotated := false
		for p := range 2 {
			for q := p + 1; q < 3; q++ {
				var alpha, beta, gamma float64
				for k := range 3 {
					alpha += w[k][p] * w[k][p]
					beta += w[k][q] * w[k][q]
					gamma += w[k][p] * w[k][q]
				}
				if gamma == 0 || alpha == 0 || beta == 0 || math.Abs(gamma) <= 1e-15*math.Sqrt(alpha*beta) {
					continue
				}
				rotated = true
				zeta := (beta - alpha) / (2 * gamma)
				t := 1 / (math.Abs(zeta) + math.Sqrt(1+zeta*zeta))
				if zeta < 0 {
					t = -t
				}
				c := 1 / math.Sqrt(1+t*t)
				sn := c * t
				for k := range 3 {
					wp, wq := w[k][p], w[k][q]
					w[k][p], w[k][q] = c*wp-sn*wq, sn*wp+c*wq
					vp, vq := v[k][p], v[k][q]
					v[k][p], v[k][q] = c*vp-sn*vq, sn*vp+c*vq
				}
			}
		}
		if !rotated {
			break
		}
	}
	// Sort columns by norm, descending.
	order := [3]int{0, 1, 2}
	var norms [3]float64
	for j := range 3 {
		norms[j] = norm3(w.col(j))
	}
	for i := range 3 {
		for j := i + 1; j < 3; j++ {
			if norms[order[j]] > norms[order[i]] {
				order[i], order[j] = order[j], order[i]
			}
		}
	}
	var vs mat3
	for i, j := range order {
		s[i] = norms[j]
		vs.setCol(i, v.col(j))
	}
	v = vs
	for i := range 3 {
		if s[i] > rankTol*s[0] && s[0] > 0 && !math.IsInf(s[0], 0) {
			rank++
		}
	}
	// U columns: normalised columns of A·V, re-orthogonalised (Gram–Schmidt)
	// against rounding.
	for i := range rank {
		c := a.apply(v.col(i))
		for k := range i {
			uk := u.col(k)
			c = sub3(c, scale3(uk, dot3(c, uk)))
		}
		u.setCol(i, scale3(c, 1/norm3(c)))
	}
	if rank == 2 {
		u.setCol(2, cross3(u.col(0), u.col(1)))
	}
	return u, s, v, rank
}

// rotX, rotY, rotZ are right-handed rotations by rad about the axes.
func rotX(rad float64) mat3 {
	c, s := math.Cos(rad), math.Sin(rad)
	return mat3{{1, 0, 0}, {0, c, -s}, {0, s, c}}
}

func rotY(rad float64) mat3 {
	c, s := math.Cos(rad), math.Sin(rad)
	return mat3{{c, 0, s}, {0, 1, 0}, {-s, 0, c}}
}

func rotZ(rad float64) mat3 {
	c, s := math.Cos(rad), math.Sin(rad)
	return mat3{{c, -s, 0}, {s, c, 0}, {0, 0, 1}}
}
