package ict_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/models/ict"
)

func TestFitSimilarityRecoversKnownTransform(t *testing.T) {
	// A rotation of 40° about (1, 2, 3), scale 2.5, translation (3, −1, 7).
	ax := [3]float64{1, 2, 3}
	n := math.Sqrt(14)
	for i := range ax {
		ax[i] /= n
	}
	th := 40 * math.Pi / 180
	c, s := math.Cos(th), math.Sin(th)
	x, y, z := ax[0], ax[1], ax[2]
	r := [3][3]float64{
		{c + x*x*(1-c), x*y*(1-c) - z*s, x*z*(1-c) + y*s},
		{y*x*(1-c) + z*s, c + y*y*(1-c), y*z*(1-c) - x*s},
		{z*x*(1-c) - y*s, z*y*(1-c) + x*s, c + z*z*(1-c)},
	}
	want := ict.Similarity{Scale: 2.5, Rotation: r, Translation: [3]float64{3, -1, 7}}
	src := [][3]float64{{0, 0, 0}, {1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 2, -1}, {-3, 1, 2}}
	var dst [][3]float64
	for _, p := range src {
		dst = append(dst, want.Apply(p))
	}
	got := ict.FitSimilarity(src, dst, nil)
	require.InDelta(t, want.Scale, got.Scale, 1e-9)
	for i := range 3 {
		require.InDeltaSlice(t, want.Rotation[i][:], got.Rotation[i][:], 1e-9)
	}
	require.InDeltaSlice(t, want.Translation[:], got.Translation[:], 1e-9)
	// Weights: an outlier with weight 0 changes nothing.
	src = append(src, [3]float64{5, 5, 5})
	dst = append(dst, [3]float64{100, -40, 3})
	w := []float64{1, 1, 1, 1, 1, 1, 0}
	got = ict.FitSimilarity(src, dst, w)
	require.InDelta(t, want.Scale, got.Scale, 1e-9)
}

func TestClosestOnTriangle(t *testing.T) {
	a, b, c := [3]float64{0, 0, 0}, [3]float64{2, 0, 0}, [3]float64{0, 2, 0}
	for _, tc := range []struct {
		p    [3]float64
		want [3]float64
	}{
		{[3]float64{0.5, 0.5, 3}, [3]float64{0.5, 0.25, 0.25}}, // above the inside: straight down
		{[3]float64{-1, -1, 0}, [3]float64{1, 0, 0}},           // beyond vertex a
		{[3]float64{3, -1, 0}, [3]float64{0, 1, 0}},            // beyond vertex b
		{[3]float64{1, -1, 0}, [3]float64{0.5, 0.5, 0}},        // beyond edge ab
		{[3]float64{2, 2, 0}, [3]float64{0, 0.5, 0.5}},         // beyond edge bc
	} {
		require.InDeltaSlice(t, tc.want[:], func() []float64 { bc := ict.ClosestOnTriangle(tc.p, a, b, c); return bc[:] }(), 1e-12, "%v", tc.p)
	}
}

func TestSolveSPD(t *testing.T) {
	a := []float64{4, 2, 0, 2, 5, 1, 0, 1, 3}
	b := []float64{2, 5, 4} // x = A⁻¹b
	x := append([]float64(nil), b...)
	require.True(t, ict.SolveSPD(append([]float64(nil), a...), x, 3))
	for i := range 3 {
		var s float64
		for j := range 3 {
			s += a[i*3+j] * x[j]
		}
		require.InDelta(t, b[i], s, 1e-12)
	}
	require.False(t, ict.SolveSPD([]float64{1, 2, 2, 1}, []float64{1, 1}, 2), "indefinite")
}
