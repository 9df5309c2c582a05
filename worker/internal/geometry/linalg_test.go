package geometry

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func requireOrthogonal(t *testing.T, m mat3) {
	t.Helper()
	p := m.transpose().mul(m)
	for i := range 3 {
		for j := range 3 {
			want := 0.0
			if i == j {
				want = 1
			}
			require.InDelta(t, want, p[i][j], 1e-9)
		}
	}
}

func TestSVD3Reconstructs(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 9))
	for range 500 {
		var a mat3
		for i := range 3 {
			for j := range 3 {
				a[i][j] = rng.NormFloat64() * 100
			}
		}
		u, s, v, rank := svd3(a)
		require.Equal(t, 3, rank)
		require.GreaterOrEqual(t, s[0], s[1])
		require.GreaterOrEqual(t, s[1], s[2])
		requireOrthogonal(t, u)
		requireOrthogonal(t, v)
		r := u.mul(mat3{{s[0], 0, 0}, {0, s[1], 0}, {0, 0, s[2]}}).mul(v.transpose())
		for i := range 3 {
			for j := range 3 {
				require.InDelta(t, a[i][j], r[i][j], 1e-9*s[0])
			}
		}
	}
}

func TestSVD3Rank(t *testing.T) {
	t.Parallel()
	// Outer products: rank 1; sum of two: rank 2; zero: rank 0.
	x, y := [3]float64{1, 2, 3}, [3]float64{-2, 0.5, 4}
	p, q := [3]float64{0, 1, -1}, [3]float64{3, 1, 1}
	var r1, r2 mat3
	for i := range 3 {
		for j := range 3 {
			r1[i][j] = x[i] * p[j]
			r2[i][j] = x[i]*p[j] + y[i]*q[j]
		}
	}
	_, _, _, rank := svd3(mat3{})
	require.Equal(t, 0, rank)
	_, _, _, rank = svd3(r1)
	require.Equal(t, 1, rank)
	u, s, v, rank := svd3(r2)
	require.Equal(t, 2, rank)
	requireOrthogonal(t, u)
	r := u.mul(mat3{{s[0], 0, 0}, {0, s[1], 0}, {0, 0, s[2]}}).mul(v.transpose())
	for i := range 3 {
		for j := range 3 {
			require.InDelta(t, r2[i][j], r[i][j], 1e-9)
		}
	}
}

func TestEulerRoundTrip(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		pitch := rng.Float64()*178 - 89
		yaw := rng.Float64()*358 - 179
		roll := rng.Float64()*358 - 179
		gp, gy, gr := eulerAngles(rotationFromAngles(pitch, yaw, roll))
		require.InDelta(t, pitch, gp, 1e-6)
		require.InDelta(t, yaw, gy, 1e-6)
		require.InDelta(t, roll, gr, 1e-6)
	}
}
